using ScottPlot;

namespace NormNet.Cli.Output;

/// <summary>Figures in the style of a paper's: title, labelled axes with units, a legend, large enough fonts;
/// each saved as PNG (for reports) and SVG (for print). Lines are solid (Skia's SVG writer has no dash effects),
/// told apart by colour and marker.</summary>
internal static class Charts
{
    public const int Width = 900, Height = 560;

    private static readonly Color[] Palette =
    [
        Color.FromHex("#1f77b4"), Color.FromHex("#d62728"), Color.FromHex("#2ca02c"), Color.FromHex("#ff7f0e"),
        Color.FromHex("#9467bd"), Color.FromHex("#8c564b"), Color.FromHex("#17becf"), Color.FromHex("#7f7f7f"),
    ];

    public static Color ColorAt(int i) => Palette[i % Palette.Length];

    /// <summary>A thin grey reference line across the plot at y.</summary>
    public static void Reference(Plot plot, double y) => plot.Add.HorizontalLine(y, 1, Colors.Gray);

    /// <summary>A thin grey marker line across the plot at x.</summary>
    public static void ReferenceX(Plot plot, double x) => plot.Add.VerticalLine(x, 1, Colors.Gray);

    /// <summary>A plot with title and axis labels set and readable fonts.</summary>
    public static Plot New(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title, 20);
        plot.XLabel(xLabel, 16);
        plot.YLabel(yLabel, 16);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        return plot;
    }

    /// <summary>Adds a line series with a legend entry.</summary>
    public static void Line(Plot plot, double[] x, double[] y, string label, int colorIndex, bool markers = false, MarkerShape shape = MarkerShape.FilledCircle)
    {
        var s = plot.Add.Scatter(x, y, ColorAt(colorIndex));
        s.LegendText = label;
        s.LineWidth = 2;
        s.MarkerSize = markers ? 7 : 0;
        s.MarkerShape = shape;
    }

    /// <summary>Log10 tick labels on the x axis for data already transformed with log10.</summary>
    public static void LogX(Plot plot) => plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => FormatPower(v),
    };

    /// <summary>Log10 tick labels on the y axis for data already transformed with log10.</summary>
    public static void LogY(Plot plot) => plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => FormatPower(v),
    };

    private static string FormatPower(double log10)
    {
        double v = Math.Pow(10, log10);
        return v >= 1e-3 && v < 1e5 ? v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture) : $"1e{log10:0}";
    }

    /// <summary>Saves <paramref name="name"/>.png and .svg into <paramref name="dir"/> and returns the PNG's file name.</summary>
    public static string Save(Plot plot, string dir, string name, Alignment legend = Alignment.LowerRight)
    {
        if (plot.GetPlottables().Any(p => p.LegendItems.Any(i => !string.IsNullOrEmpty(i.LabelText))))
        {
            plot.ShowLegend(legend);
            plot.Legend.FontSize = 14;
        }
        string png = name + ".png";
        plot.SavePng(Path.Combine(dir, png), Width, Height);
        plot.SaveSvg(Path.Combine(dir, name + ".svg"), Width, Height);
        return png;
    }
}
