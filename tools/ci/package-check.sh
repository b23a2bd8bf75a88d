#!/usr/bin/env bash
# The user's path, tested (run by .ci/run after ./test.sh): packs every package into a temporary folder, installs
# the normnet tool from it into a temporary tool path and runs it (help, and a 20-step training that writes PNG
# plots), then builds and runs a small console project against the packed NormNet and NormNet.Onnx from a local
# feed (a nuget.config adding the folder to the machine's own sources). Restores go to a temporary package folder,
# so a package of the same version left in the machine's NuGet cache by an earlier run is never used instead.
# Leaves nothing in the repository (checked at the end) and nothing outside the temporary folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
repo_status_before=$(git status --porcelain --untracked-files=all)

tmp=$(mktemp -d -t normnet-package-check-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
packs="$tmp/packs"
export NUGET_PACKAGES="$tmp/nuget-packages"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

step() { echo "package-check: $* ($((SECONDS - started)) s)"; }
fail() { echo "package-check: FAILED: $*" >&2; exit 1; }

version=$(dotnet msbuild src/NormNet/NormNet.csproj -getProperty:Version)
step "packing version $version into $packs"
dotnet pack NormNet.slnx -c Release -o "$packs" -v quiet -nologo >"$tmp/pack.log" 2>&1 || { cat "$tmp/pack.log"; fail "dotnet pack"; }
for id in NormNet NormNet.Onnx NormNet.Samples NormNet.Images NormNet.Cli; do
  [ -f "$packs/$id.$version.nupkg" ] || fail "no $id.$version.nupkg"
  [ -f "$packs/$id.$version.snupkg" ] || fail "no $id.$version.snupkg"
done
unexpected=$(cd "$packs" && ls | grep -v -E "^NormNet(\.Onnx|\.Samples|\.Images|\.Cli)?\.$version\.s?nupkg$" || true)
[ -z "$unexpected" ] || fail "unexpected packages: $unexpected"
for f in "$packs"/*.nupkg; do stat -c '%s %n' "$f"; done | awk '{ n = split($2, p, "/"); printf "  %-28s %6.2f MB\n", p[n], $1 / 1e6 }'
core_bytes=$(stat -c %s "$packs/NormNet.$version.nupkg")
[ "$core_bytes" -lt 1000000 ] || fail "NormNet.$version.nupkg is $core_bytes bytes, over 1 MB"
unzip -p "$packs/NormNet.$version.nupkg" NormNet.nuspec | grep -q '<dependency id="Google.Protobuf"' && fail "the core package depends on Google.Protobuf"

step "installing the normnet tool into a temporary tool path"
dotnet tool install --tool-path "$tmp/tools" --add-source "$packs" NormNet.Cli --version "$version" >"$tmp/tool.log" 2>&1 || { cat "$tmp/tool.log"; fail "dotnet tool install"; }
"$tmp/tools/normnet" --help >"$tmp/help.txt" || fail "normnet --help exited $?"
grep -q -E '^ *normnet \[command\] \[options\]' "$tmp/help.txt" || { cat "$tmp/help.txt"; fail "normnet --help does not show 'normnet [command] [options]'"; }
grep -q 'NormNet.Cli' "$tmp/help.txt" && fail "normnet --help still says NormNet.Cli"
step "a 20-step training from the installed tool"
(cd "$tmp" && "$tmp/tools/normnet" train --arch mlp-sigmoid --steps 20 --out "$tmp/run") || fail "normnet train exited $?"
for f in model.safetensors checkpoint.safetensors log.csv loss.png accuracy.png; do [ -s "$tmp/run/$f" ] || fail "normnet train wrote no $f"; done
[ "$(head -c 4 "$tmp/run/loss.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ] || fail "loss.png is not a PNG"

step "a console project against the packed library, from a local feed"
mkdir -p "$tmp/app"
# Stops MSBuild's search for Directory.*.props above the temporary folder: the project is built as a user's would be.
echo '<Project />' >"$tmp/app/Directory.Build.props"
echo '<Project />' >"$tmp/app/Directory.Packages.props"
echo '<Project />' >"$tmp/app/Directory.Build.targets"
cat >"$tmp/app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="normnet-local" value="$packs" />
  </packageSources>
</configuration>
XML
cat >"$tmp/app/app.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="NormNet" Version="$version" />
    <PackageReference Include="NormNet.Onnx" Version="$version" />
  </ItemGroup>
</Project>
XML
cat >"$tmp/app/Program.cs" <<'CS'
using NormNet;
using NormNet.Deployment;
using NormNet.Layers;

var rng = new Rng(1);
var model = new Sequential(new Linear(4, 8, rng: rng), new BatchNorm1d(8), new ReLU(), new Linear(8, 3, rng: rng));
var x = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => MathF.Sin(i)).ToArray(), 8, 4);
var y = model.Forward(x);
model.Eval();
var info = OnnxModelInfo.Parse(OnnxExporter.ToBytes(model, [4]), "model");
Console.WriteLine($"output {string.Join('x', y.Shape)}; {info}");
CS
dotnet run --project "$tmp/app" -c Release >"$tmp/app.log" 2>&1 || { cat "$tmp/app.log"; fail "the console project"; }
cat "$tmp/app.log"
grep -q '^output 8x3; ONNX' "$tmp/app.log" || fail "the console project printed something else"
grep -q -r --include=project.assets.json '"NormNet/'"$version"'"' "$tmp/app/obj" || fail "the console project did not restore NormNet $version"

[ "$(git status --porcelain --untracked-files=all)" = "$repo_status_before" ] || { git status --short; fail "the check left files in the repository"; }
step "ok"
