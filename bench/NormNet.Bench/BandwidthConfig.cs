using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace NormNet.Bench;

/// <summary>Adds a GB/s column (minimal traffic per element divided by the mean time) to the default config.</summary>
internal sealed class BandwidthConfig : ManualConfig
{
    public BandwidthConfig()
    {
        Add(DefaultConfig.Instance);
        AddColumn(new BandwidthColumn());
    }

    private sealed class BandwidthColumn : IColumn
    {
        public string Id => "GBps";
        public string ColumnName => "GB/s (min traffic)";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Minimal bytes moved (12/20/8 B per element for training forward/backward/eval) per second";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is null) return "-";
            if (benchmarkCase.Parameters["Shape"] is not string shape) return "-";
            int bytes = benchmarkCase.Descriptor.WorkloadMethod.Name switch
            {
                "TrainingForward" => 12,
                "Backward" => 20,
                "EvalForward" => 8,
                _ => 0,
            };
            if (bytes == 0) return "-";
            double seconds = report.ResultStatistics.Mean * 1e-9;
            return (bytes * BatchNormCase.Elements(shape) / seconds / 1e9).ToString("F1");
        }
    }
}
