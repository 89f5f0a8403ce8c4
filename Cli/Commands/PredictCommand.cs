using System.CommandLine;
using FashionGpu.Kernels;
using FashionGpu.Training;
using FashionGpu.Training.Data;
using SkiaSharp;

namespace FashionGpu.Cli.Commands;

/// <summary><c>fashiongpu predict</c>: the three most likely classes of one test image, one PNG, or many PNGs at once.</summary>
public static class PredictCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var index = new Option<int?>("--index", "-i") { Description = "Index of a test-set image (0..9999).", HelpName = "I" };
        var image = new Option<string?>("--image") { Description = "A 28x28 PNG, light garment on a dark background as in Fashion-MNIST (color is converted to gray).", HelpName = "FILE.png" };
        var images = new Option<string[]>("--images")
        {
            Description = "Many 28x28 PNGs, classified in batches on the device: files, or directories (their *.png files, sorted by name). A damaged or wrongly sized image is named in the output and the others are still classified; the exit code is then 1.",
            HelpName = "DIR|FILE.png",
            AllowMultipleArgumentsPerToken = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string?>("--out", "-o") { Description = "With --images: write the predictions to this CSV file (replaced if it exists) instead of printing them.", HelpName = "FILE.csv" };
        var devices = new DeviceOptions();
        var data = Options.DataDirectory();
        var command = new Command("predict", "Print the three most likely classes, with probabilities, for one test image (--index), a 28x28 PNG (--image) or many PNGs (--images).")
        {
            model, index, image, images, output, devices.Accelerator, devices.Device, data,
        };
        command.Validators.Add(r =>
        {
            int given = (r.GetResult(index) is not null ? 1 : 0) + (r.GetResult(image) is not null ? 1 : 0) + (r.GetResult(images) is not null ? 1 : 0);
            if (given != 1) r.AddError("give exactly one of --index I, --image FILE.png or --images DIR|FILE.png...");
            else if (r.GetResult(output) is not null && r.GetResult(images) is null) r.AddError("--out goes with --images");
        });
        command.SetAction(parse => Run(parse, CommandLine.Interrupted));
        int Run(ParseResult parse, CancellationToken cancel)
        {
            if (parse.GetResult(images) is not null)
                return BatchPrediction.Run(parse.GetValue(model)!, parse.GetValue(images)!, parse.GetValue(output), () => devices.Open(parse));
            var (network, state) = ModelOptions.LoadWeights(parse.GetValue(model)!);
            ImageSet set;
            string what;
            if (parse.GetValue(index) is { } i)
            {
                var (_, test, _) = DataLoading.Load(parse.GetValue(data), download: false, cancel);
                if (i < 0 || i >= test.Count) throw new UsageException($"--index must be in 0..{test.Count - 1} (got {i})");
                set = test.Slice(i, 1);
                what = $"test image {i} (true class: {FashionMnist.ClassNames[set.Labels[0]]})";
            }
            else
            {
                string path = parse.GetValue(image)!;
                if (!File.Exists(path)) throw new UsageException($"--image: {path} does not exist");
                var (pixels, error) = ReadPng(path);
                if (error is not null) throw new UsageException($"--image: {path} {error}");
                set = new ImageSet(pixels!, [0], 28, 28);
                what = path;
            }

            using var device = devices.Open(parse);
            var result = Evaluator.Run(new KernelLibrary(device.Accelerator), network, state, set);
            var p = result.Probabilities(0);
            Console.WriteLine($"Prediction for {what}:");
            var table = new TextTable("rank", "class", "probability");
            foreach (var (c, rank) in Top(p, 3).Select((c, r) => (c, r)))
                table.Add(rank + 1, FashionMnist.ClassNames[c], $"{p[c] * 100:0.00}%");
            table.Write(Console.Out);
            return ExitCodes.Success;
        }

        return command;
    }

    /// <summary>The <paramref name="n"/> most likely classes, most likely first.</summary>
    public static IEnumerable<int> Top(double[] p, int n) => Enumerable.Range(0, p.Length).OrderByDescending(c => p[c]).Take(n);

    /// <summary>
    /// Reads a 28x28 PNG as 784 gray bytes; gray = luminance of RGB, alpha over black. The image
    /// is decoded whole or refused: the error says why (unreadable, not an image, wrong size,
    /// truncated or corrupt data).
    /// </summary>
    public static (byte[]? Pixels, string? Error) ReadPng(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"cannot be read: {e.Message}");
        }
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null) return (null, "is not a PNG (or any image format this build can read)");
        var size = codec.Info;
        if (size.Width != 28 || size.Height != 28) return (null, $"is {size.Width}x{size.Height}; a 28x28 image is expected");
        var info = new SKImageInfo(28, 28, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        var result = codec.GetPixels(info, rgba);
        if (result != SKCodecResult.Success) return (null, $"could not be decoded whole ({Describe(result)})");
        var pixels = new byte[28 * 28];
        for (int i = 0; i < pixels.Length; i++)
        {
            double gray = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) * rgba[4 * i + 3] / 255.0;
            pixels[i] = (byte)Math.Round(gray);
        }
        return (pixels, null);
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "the data ends early: the file is truncated",
        SKCodecResult.ErrorInInput => "the data is corrupt",
        _ => $"decoder said {result}",
    };
}
