using NormNet.Data;

namespace NormNet.Images;

/// <summary>A file left out under <see cref="ImageFolderOptions.SkipBadFiles"/>, and why.</summary>
/// <param name="Path">The file.</param>
/// <param name="Reason">The error it would have raised, e.g. <c>cat/3.png: truncated or corrupt (IncompleteInput)</c>.</param>
public sealed record SkippedImage(string Path, string Reason);

/// <summary>What <see cref="ImageFolder"/> read: the images, and the files it skipped (always empty unless
/// <see cref="ImageFolderOptions.SkipBadFiles"/>).</summary>
/// <param name="Images">The images, class by class, each class's files in ordinal order of their paths.</param>
/// <param name="Skipped">The files left out, in reading order.</param>
public sealed record ImageFolderResult(ImageSet Images, IReadOnlyList<SkippedImage> Skipped);
