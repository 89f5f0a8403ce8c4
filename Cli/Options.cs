using System.CommandLine;
using System.Globalization;
using FashionGpu.Training;

namespace FashionGpu.Cli;

/// <summary>Option factories with their validation, so every command states ranges the same way.</summary>
public static class Options
{
    /// <summary>The option's value, or false when it did not convert (the parser reports that error itself).</summary>
    public static bool TryGet<T>(System.CommandLine.Parsing.OptionResult r, out T value)
    {
        try
        {
            value = r.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default!;
            return false;
        }
    }

    public static Option<int> PositiveInt(string name, string description, int defaultValue)
    {
        var o = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "N" };
        o.Validators.Add(r => { if (TryGet<int>(r, out var v)) Report(r, SettingRules.AtLeastOne(name, v)); });
        return o;
    }

    public static Option<int?> OptionalPositiveInt(string name, string description)
    {
        var o = new Option<int?>(name) { Description = description, HelpName = "N" };
        o.Validators.Add(r => { if (TryGet<int?>(r, out var v) && v is { } n) Report(r, SettingRules.AtLeastOne(name, n)); });
        return o;
    }

    public static Option<double> LearningRate(string name, string description, double defaultValue)
    {
        var o = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "X" };
        o.Validators.Add(r => { if (TryGet<double>(r, out var v)) Report(r, SettingRules.LearningRate(name, v)); });
        return o;
    }

    /// <summary>A value in [0, 1).</summary>
    public static Option<double> Fraction(string name, string description, double defaultValue)
    {
        var o = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "F" };
        o.Validators.Add(r => { if (TryGet<double>(r, out var v)) Report(r, SettingRules.Fraction(name, v)); });
        return o;
    }

    public static Option<string> Dropout(float first, float second)
    {
        string defaultText = string.Create(CultureInfo.InvariantCulture, $"{first},{second}");
        var o = new Option<string>("--dropout")
        {
            Description = "Drop probabilities after the convolutions and after Dense 128, each in [0, 1); 0,0 turns dropout off.",
            DefaultValueFactory = _ => defaultText,
            HelpName = "P1,P2",
        };
        o.Validators.Add(r =>
        {
            try { ParseDropout(r.GetValueOrDefault<string>() ?? ""); }
            catch (UsageException e) { r.AddError(e.Message); }
        });
        return o;
    }

    /// <summary>"P1,P2" as the two float32 probabilities the kernels use.</summary>
    public static (float, float) ParseDropout(string text)
    {
        var parts = text.Split(',');
        if (parts.Length != 2 || !TryFloat(parts[0], out var a) || !TryFloat(parts[1], out var b) || !SettingRules.IsProbability(a) || !SettingRules.IsProbability(b))
            throw new UsageException($"--dropout must be two probabilities in [0, 1) separated by a comma, like 0.25,0.5 (got '{text}')");
        return (a, b);
    }

    public static Option<string> Augment()
    {
        var o = new Option<string>("--augment")
        {
            Description = $"Augment the training images on the device: none, or a comma list of shift (random shifts up to 2 pixels, zeros coming in; shift=N for up to N, at most {SettingRules.MaxShift}) and flip (random horizontal flips). Drawn from the seed, the epoch and the sample, so identical on every backend.",
            DefaultValueFactory = _ => "none",
            HelpName = "KINDS",
        };
        o.Validators.Add(r =>
        {
            try { ParseAugment(r.GetValueOrDefault<string>() ?? ""); }
            catch (UsageException e) { r.AddError(e.Message); }
        });
        return o;
    }

    /// <summary>"none" or "shift[=N],flip" as (largest shift, flip).</summary>
    public static (int Shift, bool Flip) ParseAugment(string text)
    {
        int shift = 0;
        bool flip = false;
        if (text.Trim() == "none") return (0, false);
        foreach (var part in text.Split(',').Select(p => p.Trim()))
        {
            if (part == "flip") flip = true;
            else if (part == "shift") shift = 2;
            else if (part.StartsWith("shift=", StringComparison.Ordinal) && int.TryParse(part["shift=".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int n)
                     && SettingRules.Shift(n) is null) shift = n;
            else throw new UsageException($"--augment must be none, or a comma list of shift, shift=N (N in 0..{SettingRules.MaxShift}) and flip (got '{text}')");
        }
        return (shift, flip);
    }

    private static bool TryFloat(string s, out float p) => float.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out p);

    private static void Report(System.CommandLine.Parsing.OptionResult r, string? problem)
    {
        if (problem is not null) r.AddError(problem);
    }

    public static Option<string?> DataDirectory() => new("--data")
    {
        Description = "Directory with the four Fashion-MNIST IDX files (.gz or raw). Default: $FASHION_MNIST_DIR, ~/.keras/datasets/fashion-mnist, /usr/share/datasets/fashion-mnist.",
        HelpName = "DIR",
    };
}
