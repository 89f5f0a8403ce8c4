namespace FashionGpu.Cli;

/// <summary>A plain-text table with aligned columns (numbers right-aligned), for terminals and logs alike.</summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public TextTable Add(params object[] cells)
    {
        rows.Add(cells.Select(c => c?.ToString() ?? "").ToArray());
        return this;
    }

    public void Write(TextWriter writer)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var numeric = headers.Select((_, i) => rows.Count > 0 && rows.All(r => IsNumber(r[i]))).ToArray();
        writer.WriteLine(Format(headers, widths, numeric));
        writer.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in rows) writer.WriteLine(Format(row, widths, numeric));
    }

    private static string Format(string[] cells, int[] widths, bool[] rightAlign) =>
        string.Join("  ", cells.Select((c, i) => rightAlign[i] ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd();

    private static bool IsNumber(string s) => s.Length > 0 && double.TryParse(s.TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture, out _);
}
