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

    /// <summary>A thin grey reference line across the plot at y, named in the legend (a threshold, a target).</summary>
    public static void Reference(Plot plot, double y, string label)
    {
        var line = plot.Add.HorizontalLine(y, 1.5f, Colors.DimGray);
        line.LegendText = label;
    }

    /// <summary>A thin grey vertical line at x, named in the legend.</summary>
    public static void ReferenceX(Plot plot, double x, string label, int colorIndex = 7)
    {
        var line = plot.Add.VerticalLine(x, 1.5f, ColorAt(colorIndex));
        line.LegendText = label;
    }

    /// <summary>Seeds drawn honestly: each run as a faint thin line, the mean over runs as a solid line and mean ± sd
    /// as a shaded band. Runs are aligned by index (they share x); NaN values (a diverged run) are left out of the
    /// statistics, and where no run has a value the lines break instead of dropping to zero.</summary>
    public static void Band(Plot plot, double[] x, IReadOnlyList<double[]> runs, string label, int colorIndex)
    {
        var color = ColorAt(colorIndex);
        var aligned = runs.Where(r => r.Length == x.Length).ToList();
        int n = aligned.Count;
        double[] mean = new double[x.Length], lo = new double[x.Length], hi = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            var e = Science.Stats.Estimate(aligned.Select(r => r[i]));
            double sd = double.IsNaN(e.Sd) ? 0 : e.Sd;
            (mean[i], lo[i], hi[i]) = (e.Mean, e.Mean - sd, e.Mean + sd);
        }
        if (n >= 2)
        {
            foreach (var (from, count) in Segments(mean))
            {
                var band = plot.Add.FillY(x[from..(from + count)], lo[from..(from + count)], hi[from..(from + count)]);
                band.FillColor = color.WithAlpha(0.18);
                band.LineColor = Colors.Transparent;
            }
            foreach (var run in aligned)
                foreach (var (from, count) in Segments(run))
                {
                    var faint = plot.Add.Scatter(x[from..(from + count)], run[from..(from + count)], color.WithAlpha(0.35));
                    faint.LineWidth = 1;
                    faint.MarkerSize = count == 1 ? 3 : 0;
                }
        }
        Line(plot, x, mean, n >= 2 ? $"{label}: mean ± sd of {n} seeds (faint: each seed)" : label, colorIndex, markers: x.Length <= 30);
    }

    /// <summary>The runs of finite values in <paramref name="y"/>: (start, length).</summary>
    public static IEnumerable<(int From, int Count)> Segments(double[] y)
    {
        for (int i = 0; i < y.Length;)
        {
            if (!double.IsFinite(y[i])) { i++; continue; }
            int start = i;
            while (i < y.Length && double.IsFinite(y[i])) i++;
            yield return (start, i - start);
        }
    }

    /// <summary>Markers for runs that diverged (no accuracy to draw), at height <paramref name="y"/>, named in the legend.</summary>
    public static void DivergedMarkers(Plot plot, double[] x, double y, string label, int colorIndex)
    {
        if (x.Length == 0) return;
        var m = plot.Add.Markers(x, x.Select(_ => y).ToArray(), MarkerShape.Eks, 11, ColorAt(colorIndex));
        m.LegendText = label;
    }

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

    /// <summary>Adds a line series with a legend entry; non-finite values break the line (a gap, never a zero).</summary>
    public static void Line(Plot plot, double[] x, double[] y, string label, int colorIndex, bool markers = false, MarkerShape shape = MarkerShape.FilledCircle)
    {
        bool first = true;
        foreach (var (from, count) in Segments(y))
        {
            var s = plot.Add.Scatter(x[from..(from + count)], y[from..(from + count)], ColorAt(colorIndex));
            if (first) s.LegendText = label;
            first = false;
            s.LineWidth = 2;
            s.MarkerSize = markers || count == 1 ? 7 : 0;
            s.MarkerShape = shape;
        }
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

    /// <summary>Saves with the legend inside the plot at <paramref name="legend"/> (the train command's plots).</summary>
    public static string Save(Plot plot, string dir, string name, Alignment legend)
    {
        if (plot.GetPlottables().Any(p => p.LegendItems.Any(i => !string.IsNullOrEmpty(i.LabelText))))
        {
            plot.ShowLegend(legend);
            plot.Legend.FontSize = 14;
        }
        return Write(plot, dir, name, Height);
    }

    /// <summary>Saves <paramref name="name"/>.png and .svg into <paramref name="dir"/> and returns the PNG's file name.
    /// The legend goes below the plot, where it cannot hide data; the image grows to make room for it.</summary>
    public static string Save(Plot plot, string dir, string name)
    {
        int entries = plot.GetPlottables().Sum(p => p.LegendItems.Count(i => !string.IsNullOrEmpty(i.LabelText)));
        int height = Height;
        if (entries > 0)
        {
            plot.ShowLegend(Edge.Bottom);
            plot.Legend.Orientation = Orientation.Vertical;
            plot.Legend.FontSize = 13;
            height += 40 + 22 * entries;
        }
        return Write(plot, dir, name, height);
    }

    private static string Write(Plot plot, string dir, string name, int height)
    {
        string png = name + ".png";
        plot.SavePng(Path.Combine(dir, png), Width, height);
        plot.SaveSvg(Path.Combine(dir, name + ".svg"), Width, height);
        return png;
    }
}
