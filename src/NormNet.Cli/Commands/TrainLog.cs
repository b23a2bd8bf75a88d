using System.Globalization;
using System.Text;
using NormNet.Cli.Output;
using NormNet.Training;

namespace NormNet.Cli.Commands;

/// <summary>The per-step CSV log of <c>normnet train</c> (step, epoch, loss, the batch's accuracy or RMSE, learning rate,
/// and the test loss and accuracy or RMSE on evaluation steps) and its plots.</summary>
internal sealed class TrainLog(string path, Data.TaskKind task)
{
    private readonly bool _regression = task == Data.TaskKind.Regression;
    private readonly SortedDictionary<long, string[]> _rows = [];

    private string Metric => _regression ? "rmse" : "accuracy";

    private string Header => $"step,epoch,loss,batch_{Metric},lr,test_loss,test_{Metric}";

    public void AddStep(StepResult r) => _rows[r.Step] =
        [F(r.Step), F(r.Epoch), F(r.Loss), F(r.BatchAccuracy), F(r.LearningRate), "", ""];

    public void AddEvaluation(EvaluationResult r)
    {
        if (!_rows.TryGetValue(r.Step, out var row)) return;
        row[5] = F(r.Loss);
        row[6] = F(_regression ? r.Rmse : r.Accuracy);
    }

    /// <summary>Keeps the rows of an earlier run up to <paramref name="step"/> (resuming).</summary>
    public void LoadUpTo(long step)
    {
        if (!File.Exists(path)) return;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split(',');
            if (f.Length == 7 && long.Parse(f[0], CultureInfo.InvariantCulture) <= step) _rows[long.Parse(f[0], CultureInfo.InvariantCulture)] = f;
        }
    }

    public void Save()
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var row in _rows.Values) sb.Append(string.Join(',', row)).Append('\n');
        Serialization.AtomicFile.WriteAllText(path, sb.ToString());
    }

    public void Plot(string dir, string title)
    {
        var steps = _rows.Keys.Select(k => (double)k).ToArray();
        var loss = _rows.Values.Select(r => double.Parse(r[2], CultureInfo.InvariantCulture)).ToArray();
        var lossPlot = Charts.New($"Training loss: {title}", "training step", _regression ? "mean squared error" : "cross-entropy (nats)");
        Charts.Line(lossPlot, steps, loss, "per batch", 7);
        Charts.Line(lossPlot, steps, MovingAverage(loss, 50), "moving average (50 steps)", 0);
        Charts.Save(lossPlot, dir, "loss", ScottPlot.Alignment.UpperRight);
        var evals = _rows.Values.Where(r => r[6].Length > 0).ToList();
        var accPlot = Charts.New($"Test {Metric}: {title}", "training step", _regression ? "test RMSE" : "test accuracy (fraction correct)");
        Charts.Line(accPlot, evals.Select(r => double.Parse(r[0], CultureInfo.InvariantCulture)).ToArray(),
            evals.Select(r => double.Parse(r[6], CultureInfo.InvariantCulture)).ToArray(), "test set, eval mode", 0, markers: true);
        Charts.Save(accPlot, dir, Metric);
    }

    private static double[] MovingAverage(double[] v, int window)
    {
        var r = new double[v.Length];
        double sum = 0;
        for (int i = 0; i < v.Length; i++)
        {
            sum += v[i];
            if (i >= window) sum -= v[i - window];
            r[i] = sum / Math.Min(i + 1, window);
        }
        return r;
    }

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
