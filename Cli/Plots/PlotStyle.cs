using ScottPlot;
using SkiaSharp;

namespace FashionGpu.Cli.Plots;

/// <summary>
/// Fonts and shared drawing helpers. The DejaVu Sans files ship with the CLI (Cli/Fonts), so
/// text renders on a machine with no fonts installed; without a font SkiaSharp would save
/// pictures with no text at all.
/// </summary>
public static class PlotStyle
{
    public const string FontFamily = "DejaVu Sans";
    private static readonly Lazy<SKTypeface> regular = new(() => Load("DejaVuSans.ttf"));
    private static readonly Lazy<SKTypeface> bold = new(() => Load("DejaVuSans-Bold.ttf"));
    private static int registered;

    private static string FontPath(string file) => Path.Combine(AppContext.BaseDirectory, "Fonts", file);

    private static SKTypeface Load(string file) =>
        SKTypeface.FromFile(FontPath(file)) ?? throw new InvalidOperationException($"font {FontPath(file)} is missing from the build output");

    public static SKTypeface Regular => regular.Value;
    public static SKTypeface Bold => bold.Value;

    /// <summary>Makes ScottPlot use the bundled font everywhere; call before building a plot.</summary>
    public static void UseBundledFonts()
    {
        if (Interlocked.Exchange(ref registered, 1) == 1) return;
        Fonts.AddFontFile(FontFamily, FontPath("DejaVuSans.ttf"), bold: false, italic: false);
        Fonts.AddFontFile(FontFamily, FontPath("DejaVuSans-Bold.ttf"), bold: true, italic: false);
        Fonts.Default = FontFamily;
    }

    /// <summary>Draws plots side by side on one white canvas and saves it as PNG (atomically).</summary>
    public static void SavePanels(string path, int panelWidth, int height, params Plot[] panels)
    {
        using var surface = SKSurface.Create(new SKImageInfo(panelWidth * panels.Length, height));
        surface.Canvas.Clear(SKColors.White);
        // Each panel is rendered on its own: a plot paints its background over the whole canvas.
        for (int i = 0; i < panels.Length; i++)
        {
            using var image = SKImage.FromEncodedData(panels[i].GetImageBytes(panelWidth, height, ImageFormat.Png));
            surface.Canvas.DrawImage(image, i * panelWidth, 0);
        }
        SavePng(surface, path);
    }

    public static void SavePng(SKSurface surface, string path)
    {
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        Training.OutputFile.Write(path, s => data.SaveTo(s));
    }
}
