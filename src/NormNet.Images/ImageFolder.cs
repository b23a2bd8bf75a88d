using NormNet.Data;

namespace NormNet.Images;

/// <summary>Reads a folder of images laid out as torchvision's <c>ImageFolder</c>: <c>root/CLASS/xxx.png</c>, one
/// sub-folder per class, into an <see cref="ImageSet"/> decoded once and cached as bytes (C x H x W planar).</summary>
/// <remarks>
/// <para>Classes are the sub-folders' names, sorted ordinally (<c>"B" &lt; "a" &lt; "b"</c>), numbered from 0. Each class
/// folder is searched recursively for files ending in <see cref="Extensions"/> (any case); other files, files directly
/// in the root, and hidden files and folders (names starting with '.') are ignored. Samples come class by class, each
/// class's files in ordinal order of their paths.</para>
/// <para>Images are decoded by SkiaSharp: alpha dropped, a GIF's first frame, grey as ITU-R 601-2 luma
/// (<c>(19595 R + 38470 G + 7471 B + 32768) &gt;&gt; 16</c>, PIL's). Every bad file is an <see cref="InvalidDataException"/>
/// naming it, unless <see cref="ImageFolderOptions.SkipBadFiles"/>.</para>
/// </remarks>
public static class ImageFolder
{
    /// <summary>The file endings read as images: .png .jpg .jpeg .bmp .gif .webp, compared ignoring case.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>Reads a training folder: its classes are its sub-folders (at least 2).</summary>
    /// <param name="root">The folder holding one sub-folder per class.</param>
    /// <param name="options">Channels, size and bad-file handling; null for the defaults.</param>
    /// <exception cref="DirectoryNotFoundException">There is no folder at <paramref name="root"/>.</exception>
    /// <exception cref="InvalidDataException">No class folders, fewer than 2 classes, an empty class folder, a bad file
    /// (unless skipped), or images of different sizes with no <see cref="ImageFolderOptions.Size"/>; the message names the
    /// folder or file.</exception>
    public static ImageFolderResult Read(string root, ImageFolderOptions? options = null)
    {
        options ??= new ImageFolderOptions();
        var classes = ClassFolders(root);
        if (classes.Length < 2)
            throw new InvalidDataException(
                $"{root}: found 1 class folder ('{Path.GetFileName(classes[0])}'): training needs at least 2 classes, one sub-folder each.");
        var loader = new ImageLoader(options.Channels, options.Size, null, null, options.SkipBadFiles, options.MaxPixelsPerImage);
        var names = classes.Select(Path.GetFileName).ToArray();
        return Load(root, classes, Enumerable.Range(0, classes.Length).ToArray(), names!, loader);
    }

    /// <summary>Reads a test folder with the classes, channels and size of <paramref name="training"/>: each sub-folder must
    /// be a training class (mapped to the same index); classes may be missing. Images must have the training size, unless
    /// <see cref="ImageFolderOptions.Size"/> (equal to it) asks to resize them.</summary>
    /// <exception cref="InvalidDataException">As <see cref="Read"/>, or a sub-folder is not a training class.</exception>
    /// <exception cref="ArgumentException">The options ask for other channels or another size than the training's.</exception>
    public static ImageFolderResult ReadLike(string root, ImageSet training, ImageFolderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(training);
        options ??= new ImageFolderOptions();
        var size = new ImageSize(training.Height, training.Width);
        if (options.Channels is { } c && c != training.Channels)
            throw new ArgumentException($"Expected {training.Channels} channels, as {training.Name} has, found {c}.", nameof(options));
        if (options.Size is { } s && s != size)
            throw new ArgumentException($"Expected the image size of {training.Name}, {size}, found {s}.", nameof(options));
        var classes = ClassFolders(root);
        var index = training.ClassNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        var labels = new int[classes.Length];
        for (int k = 0; k < classes.Length; k++)
        {
            var name = Path.GetFileName(classes[k]);
            if (!index.TryGetValue(name, out labels[k]))
                throw new InvalidDataException(
                    $"{classes[k]}: class '{name}' is not one of the {training.ClassCount} training classes ({string.Join(", ", training.ClassNames.Take(10).Select(n => $"'{n}'"))}{(training.ClassCount > 10 ? ", ..." : "")}).");
        }
        var loader = new ImageLoader(training.Channels, options.Size, size, $"the size of the training images ({training.Name})",
            options.SkipBadFiles, options.MaxPixelsPerImage);
        return Load(root, classes, labels, training.ClassNames, loader);
    }

    private static ImageFolderResult Load(string root, string[] classes, int[] labels, IReadOnlyList<string> classNames, ImageLoader loader)
    {
        for (int k = 0; k < classes.Length; k++)
        {
            var files = ImageFilesIn(classes[k]);
            if (files.Length == 0)
                throw new InvalidDataException(
                    $"{classes[k]}: the class folder has no images: expected at least 1 file ending in {string.Join(", ", Extensions)}.");
            int before = loader.Count;
            foreach (var file in files) loader.Add(file, labels[k]);
            if (loader.Count == before)
                throw new InvalidDataException(
                    $"{classes[k]}: all {files.Length} images of the class were skipped as bad (first: {loader.Skipped[^files.Length].Reason}): expected at least 1 readable image.");
        }
        var (pixels, sampleLabels, channels, size) = loader.Finish();
        var set = new ImageSet(pixels, sampleLabels, channels, size.Height, size.Width, classNames, root);
        return new ImageFolderResult(set, loader.Skipped.ToArray());
    }

    /// <summary>The class sub-folders of <paramref name="root"/>, hidden ones left out, sorted ordinally; at least one.</summary>
    private static string[] ClassFolders(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: image folder not found.");
        var classes = Directory.EnumerateDirectories(root, "*", new EnumerationOptions())
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .Order(StringComparer.Ordinal).ToArray();
        if (classes.Length == 0)
            throw new InvalidDataException($"{root}: no class folders: expected one sub-folder of images per class (root/CLASS/image.png).");
        return classes;
    }

    /// <summary>The image files under a class folder, recursively, hidden ones left out, sorted ordinally.</summary>
    internal static string[] ImageFilesIn(string folder) =>
        Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true })
            .Where(f => !Path.GetFileName(f).StartsWith('.') && IsImageFile(f))
            .Order(StringComparer.Ordinal).ToArray();

    /// <summary>Whether a file's name ends in one of <see cref="Extensions"/>, ignoring case.</summary>
    public static bool IsImageFile(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);
}
