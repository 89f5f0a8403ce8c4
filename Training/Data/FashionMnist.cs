namespace FashionGpu.Training.Data;

/// <summary>
/// The Fashion-MNIST dataset: 60,000 training and 10,000 test images of 28x28 in ten classes,
/// stored as the four original IDX files, each either gzip-compressed (NAME.gz, as
/// distributed) or raw (NAME).
/// </summary>
public static class FashionMnist
{
    public const string TrainImagesFile = "train-images-idx3-ubyte";
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";
    public const string TestImagesFile = "t10k-images-idx3-ubyte";
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    public const int ImageRows = 28;
    public const int ImageCols = 28;

    /// <summary>The four file names without extension, in the order train images, train labels, test images, test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } =
        [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];

    /// <summary>Class names by label index, as in the dataset's README.</summary>
    public static readonly string[] ClassNames =
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>
    /// The path of <paramref name="name"/> in <paramref name="directory"/>: NAME.gz if present,
    /// else NAME, else null. Anything at that path counts, even a directory, so that reading
    /// it reports what is wrong instead of "missing".
    /// </summary>
    public static string? FindFile(string directory, string name)
    {
        var gz = Path.Combine(directory, name + ".gz");
        if (Path.Exists(gz))
        {
            return gz;
        }

        var raw = Path.Combine(directory, name);
        return Path.Exists(raw) ? raw : null;
    }

    /// <summary>The names of the four files that <paramref name="directory"/> lacks (none: it is complete).</summary>
    public static IReadOnlyList<string> MissingFiles(string directory) =>
        FileNames.Where(name => FindFile(directory, name) is null).ToList();

    /// <summary>Loads the training and test sets from <paramref name="directory"/>.</summary>
    /// <exception cref="DataFileException">A file is missing, unreadable or inconsistent.</exception>
    public static (ImageSet Train, ImageSet Test) Load(string directory)
    {
        if (File.Exists(directory))
        {
            throw DataFileException.For(directory, "is a file, expected the directory holding the Fashion-MNIST files");
        }

        if (!Directory.Exists(directory))
        {
            throw DataFileException.For(directory, "data directory not found");
        }

        var missing = MissingFiles(directory);
        if (missing.Count > 0)
        {
            throw DataFileException.For(directory, $"missing {string.Join(", ", missing.Select(m => m + "[.gz]"))}");
        }

        var train = LoadPair(FindFile(directory, TrainImagesFile)!, FindFile(directory, TrainLabelsFile)!);
        var test = LoadPair(FindFile(directory, TestImagesFile)!, FindFile(directory, TestLabelsFile)!);
        return (train, test);
    }

    /// <summary>Reads an images file and its labels file and checks that their counts agree.</summary>
    public static ImageSet LoadPair(string imagesPath, string labelsPath)
    {
        var images = IdxReader.ReadImages(imagesPath, ImageRows, ImageCols);
        var labels = IdxReader.ReadLabels(labelsPath);
        if (images.Count != labels.Length)
        {
            throw new DataFileException(
                $"{imagesPath} has {images.Count} images but {labelsPath} has {labels.Length} labels; the counts must agree");
        }

        return new ImageSet(images.Pixels, labels, images.Rows, images.Cols);
    }
}
