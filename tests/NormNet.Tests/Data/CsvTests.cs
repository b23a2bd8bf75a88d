using NormNet.Data;

namespace NormNet.Tests.Data;

/// <summary>The CSV reader: tables of features with class labels or regression targets, and a one-line message naming
/// file, line and column for every malformed input.</summary>
public sealed class CsvTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(string name, string text)
    {
        string path = _dir.File(name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Reading fails with an InvalidDataException whose one-line message starts with the file (and line).</summary>
    private static string Bad(string path, string prefix, CsvOptions? options = null, TensorSet? like = null)
    {
        var e = Assert.Throws<InvalidDataException>(() => like is null ? CsvDataset.Read(path, options) : CsvDataset.ReadLike(path, like, options));
        Assert.StartsWith(path + prefix, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void ReadsStringLabelsAsSortedClasses()
    {
        var set = CsvDataset.Read(Write("a.csv", "x,y,species\n1,2,dog\n3,4.5,cat\n-5e-1,.25,dog\n6,7,ant\n"));
        Assert.Equal(TaskKind.Classification, set.Task);
        Assert.Equal(["ant", "cat", "dog"], set.ClassNames);
        Assert.Equal([2, 1, 2, 0], set.Labels.ToArray());
        Assert.Equal([2], set.SampleShape.ToArray());
        Assert.Equal(["x", "y"], set.FeatureNames);
        Assert.Equal([1f, 2f, 3f, 4.5f, -0.5f, 0.25f, 6f, 7f], set.Features.ToArray());
        Assert.Equal(4, set.Count);
    }

    [Fact]
    public void SortsStringClassesOrdinally()
    {
        var set = CsvDataset.Read(Write("o.csv", "x,y\n1,b\n2,a\n3,B\n4,a\n"));
        Assert.Equal(["B", "a", "b"], set.ClassNames);
        Assert.Equal([2, 1, 0, 1], set.Labels.ToArray());
    }

    [Fact]
    public void SortsNumericClassesByValue()
    {
        var set = CsvDataset.Read(Write("n.csv", "x,y\n1,10\n2,2\n3,-1\n4,2\n"));
        Assert.Equal(["-1", "2", "10"], set.ClassNames);
        Assert.Equal([2, 1, 0, 1], set.Labels.ToArray());
    }

    [Fact]
    public void OneNumberWrittenTwoWaysIsAnError()
    {
        var message = Bad(Write("n2.csv", "x,y\n1,1\n2,1.0\n3,2\n"), ": ");
        Assert.Contains("'1' and '1.0'", message);
    }

    [Fact]
    public void LabelColumnByNameAnywhere()
    {
        var set = CsvDataset.Read(Write("m.csv", "label,a,b\nyes,1,2\nno,3,4\n"), new CsvOptions { LabelColumns = ["label"] });
        Assert.Equal(["a", "b"], set.FeatureNames);
        Assert.Equal(["no", "yes"], set.ClassNames);
        Assert.Equal([1, 0], set.Labels.ToArray());
        Assert.Equal([1f, 2f, 3f, 4f], set.Features.ToArray());
    }

    [Fact]
    public void RegressionWithOneTarget()
    {
        var set = CsvDataset.Read(Write("r.csv", "a,b,price\n1,2,3.5\n4,5,-6\n"), new CsvOptions { Task = TaskKind.Regression });
        Assert.Equal(TaskKind.Regression, set.Task);
        Assert.Equal(["price"], set.TargetNames);
        Assert.Equal([3.5f, -6f], set.Targets.ToArray());
        Assert.Equal([1f, 2f, 4f, 5f], set.Features.ToArray());
    }

    [Fact]
    public void RegressionWithTwoTargetsInTheOrderAskedFor()
    {
        var options = new CsvOptions { Task = TaskKind.Regression, LabelColumns = CsvOptions.ParseColumnList("t2, t1") };
        var set = CsvDataset.Read(Write("r2.csv", "t1,a,t2,b\n1,2,3,4\n5,6,7,8\n"), options);
        Assert.Equal(["t2", "t1"], set.TargetNames);
        Assert.Equal([3f, 1f, 7f, 5f], set.Targets.ToArray());
        Assert.Equal(["a", "b"], set.FeatureNames);
        Assert.Equal([2f, 4f, 6f, 8f], set.Features.ToArray());
    }

    [Fact]
    public void QuotesSpacesSeparatorsBlankLinesAndCrlf()
    {
        var set = CsvDataset.Read(Write("q.csv", "\"a\"; b ;\"the label\"\r\n 1 ;\"2.5\";\"x;y\"\r\n\r\n3;4;z\r\n"));
        Assert.Equal(["a", "b"], set.FeatureNames);
        Assert.Equal(["x;y", "z"], set.ClassNames);
        Assert.Equal([1f, 2.5f, 3f, 4f], set.Features.ToArray());

        var tab = CsvDataset.Read(Write("t.tsv", "a\tb\tc\n1\t2\tp\n3\t4\tq\n"));
        Assert.Equal(["a", "b"], tab.FeatureNames);

        var pipe = CsvDataset.Read(Write("p.csv", "a|b|c\n1|2|p\n3|4|q\n"), new CsvOptions { Separator = '|' });
        Assert.Equal([1f, 2f, 3f, 4f], pipe.Features.ToArray());
    }

    [Fact]
    public void Utf8ByteOrderMarkIsNotPartOfTheFirstName()
    {
        var set = CsvDataset.Read(Write("bom.csv", "\uFEFFa,b\n1,p\n2,q\n"));
        Assert.Equal(["a"], set.FeatureNames);
    }

    [Theory]
    [InlineData("abc", "column 'age' (2): expected a number, found 'abc'")]
    [InlineData("", "column 'age' (2): expected a number, found an empty cell")]
    [InlineData("1,5", "column 'age' (2): expected a number, found '1,5'")] // quoted, so one cell with a comma
    [InlineData("NaN", "column 'age' (2): expected a finite float32 number, found 'NaN'")]
    [InlineData("1e39", "column 'age' (2): expected a finite float32 number, found '1e39'")]
    [InlineData("0x10", "column 'age' (2): expected a number, found '0x10'")]
    public void BadFeatureCellNamesFileLineAndColumn(string cell, string expected)
    {
        var path = Write("bad.csv", $"id,age,y\n1,2,a\n3,\"{cell}\",b\n");
        var message = Bad(path, ":3: ");
        Assert.Equal($"{path}:3: {expected}.", message);
    }

    [Fact]
    public void LongBadCellIsShortenedInTheMessage()
    {
        var message = Bad(Write("long.csv", $"a,y\n{new string('z', 500)},p\n"), ":2: ");
        Assert.True(message.Length < 200, message);
        Assert.Contains("...", message);
    }

    [Fact]
    public void BadRegressionTargetNamesItsColumn()
    {
        var path = Write("rt.csv", "a,t\n1,2\n3,oops\n");
        Assert.Equal($"{path}:3: column 't' (2): expected a number, found 'oops'.",
            Bad(path, ":3: ", new CsvOptions { Task = TaskKind.Regression }));
    }

    [Fact]
    public void RaggedRowsNameFileAndLine()
    {
        var few = Write("few.csv", "a,b,y\n1,2,p\n3,4,q\n5,6\n");
        Assert.Equal($"{few}:4: expected 3 cells (the header's columns) separated by ',', found 2.", Bad(few, ":4: "));
        var many = Write("many.csv", "a,b,y\n1,2,p\n3,4,q,9\n");
        Assert.Contains("expected 3 cells", Bad(many, ":3: "));
        Assert.Contains("found 4", Bad(many, ":3: "));
        var tab = Write("few.tsv", "a\tb\ty\n1\t2\tp\n3\t4\n");
        Assert.Equal($"{tab}:3: expected 3 cells (the header's columns) separated by '\\t', found 2.", Bad(tab, ":3: "));
    }

    [Fact]
    public void LineNumbersCountQuotedLineBreaks()
    {
        var path = Write("ml.csv", "a,y\n1,\"two\nlines\"\nbad,p\n");
        Assert.StartsWith($"{path}:4: column 'a' (1)", Bad(path, ":4: "));
    }

    [Fact]
    public void EmptyLabelIsAnError()
    {
        var path = Write("nolabel.csv", "a,y\n1,p\n2,\n3,q\n");
        Assert.Equal($"{path}:3: column 'y' (2): expected a class label, found an empty cell.", Bad(path, ":3: "));
    }

    [Fact]
    public void SingleClassIsAnError()
    {
        var message = Bad(Write("one.csv", "a,y\n1,p\n2,p\n"), ": ");
        Assert.Contains("needs at least 2 classes", message);
        Assert.Contains("'p'", message);
    }

    [Fact]
    public void HeaderOnlyAndEmptyFilesAreErrors()
    {
        Assert.Contains("no data rows", Bad(Write("h.csv", "a,b,y\n"), ": "));
        Assert.Contains("no data rows", Bad(Write("h2.csv", "a,b,y\n\n\n"), ": "));
        Assert.Contains("empty", Bad(Write("e.csv", ""), ": "));
    }

    [Fact]
    public void BadHeadersAreErrors()
    {
        var dup = Write("dup.csv", "a,b,a,y\n1,2,3,p\n");
        Assert.Equal($"{dup}:1: column 3 is named 'a', as column 1 is: expected unique column names.", Bad(dup, ":1: "));
        Assert.Contains("column 2 of the header has no name", Bad(Write("noname.csv", "a,,y\n1,2,p\n"), ":1: "));
        Assert.Contains("expected at least 2 columns", Bad(Write("single.csv", "a b c\n1 2 3\n"), ":1: "));
        var missing = Write("miss.csv", "a,b,y\n1,2,p\n");
        Assert.Contains("expected a label column named 'label'", Bad(missing, ":1: ", new CsvOptions { LabelColumns = ["label"] }));
    }

    [Fact]
    public void HugeHeadersAreRefusedBeforeParsing()
    {
        var wide = Write("wide.csv", string.Join(',', Enumerable.Range(0, 101).Select(i => $"c{i}")) + "\n" + string.Join(',', Enumerable.Repeat("1", 101)) + "\n");
        Assert.Contains("101 columns: expected at most 100", Bad(wide, ":1: ", new CsvOptions { MaxColumns = 100 }));
        var longHeader = Write("longh.csv", new string('a', 5000) + ",y\n1,p\n");
        Assert.Contains("longer than 1,000 bytes", Bad(longHeader, ":1: ", new CsvOptions { MaxHeaderBytes = 1000 }));
        // A quoted line end does not end the header; an unclosed quote runs to the limit.
        var quoted = Write("qh.csv", "\"a\n" + new string('b', 2000) + "\",y\n1,p\n");
        Assert.Contains("longer than", Bad(quoted, ":1: ", new CsvOptions { MaxHeaderBytes = 1000 }));
    }

    [Fact]
    public void OptionsThatContradictThemselvesAreArgumentErrors()
    {
        var path = Write("ok.csv", "a,b,y\n1,2,p\n3,4,q\n");
        Assert.Throws<ArgumentException>(() => CsvDataset.Read(path, new CsvOptions { LabelColumns = ["a", "b"] }));
        Assert.Throws<ArgumentException>(() => CsvDataset.Read(path, new CsvOptions { LabelColumns = ["y", "y"], Task = TaskKind.Regression }));
        Assert.Throws<ArgumentException>(() => CsvOptions.ParseColumnList("a,,b"));
        Assert.Throws<FileNotFoundException>(() => CsvDataset.Read(_dir.File("absent.csv")));
        Assert.Contains("every column is a label column",
            Bad(path, ":1: ", new CsvOptions { LabelColumns = ["a", "b", "y"], Task = TaskKind.Regression }));
    }

    [Fact]
    public void TestFileMapsClassesLikeTraining()
    {
        var train = CsvDataset.Read(Write("train.csv", "a,b,y\n1,2,cat\n3,4,dog\n5,6,ant\n"));
        var test = CsvDataset.ReadLike(Write("test.csv", "a,b,y\n7,8,dog\n9,10,dog\n"), train);
        Assert.Equal(train.ClassNames, test.ClassNames);
        Assert.Equal([2, 2], test.Labels.ToArray());
        Assert.Equal(["a", "b"], test.FeatureNames);

        var unseen = Write("unseen.csv", "a,b,y\n7,8,dog\n9,10,zebra\n");
        Assert.Equal($"{unseen}:3: column 'y' (3): class 'zebra' is not one of the 3 training classes ('ant', 'cat', 'dog').", Bad(unseen, ":3: ", like: train));
    }

    [Fact]
    public void TestFileNumericClassesMapByName()
    {
        var train = CsvDataset.Read(Write("train.csv", "a,y\n1,10\n2,9\n3,10\n"));
        Assert.Equal(["9", "10"], train.ClassNames);
        var test = CsvDataset.ReadLike(Write("test.csv", "a,y\n1,9\n"), train);
        Assert.Equal([0], test.Labels.ToArray());
        Assert.Contains("class '9.0' is not one of", Bad(Write("t2.csv", "a,y\n1,9.0\n"), ":2: ", like: train));
    }

    [Fact]
    public void TestFileColumnsMustMatchTraining()
    {
        var train = CsvDataset.Read(Write("train.csv", "a,b,c,y\n1,2,3,p\n4,5,6,q\n"));
        Assert.Contains("missing the feature column(s) 'c'", Bad(Write("m.csv", "a,b,y\n1,2,p\n"), ":1: ", like: train));
        Assert.Contains("column(s) 'd' are not feature columns", Bad(Write("x.csv", "a,b,c,d,y\n1,2,3,4,p\n"), ":1: ", like: train));
        Assert.Contains("feature 2 is 'c': expected 'b'", Bad(Write("o.csv", "a,c,b,y\n1,2,3,p\n"), ":1: ", like: train));
        // The label column is found by name, so it may sit elsewhere in the test file.
        var moved = CsvDataset.ReadLike(Write("mv.csv", "y,a,b,c\nq,1,2,3\n"), train, new CsvOptions { LabelColumns = ["y"] });
        Assert.Equal([1], moved.Labels.ToArray());
    }

    [Fact]
    public void TestFileForRegressionUsesTheTrainingTargets()
    {
        var options = new CsvOptions { Task = TaskKind.Regression, LabelColumns = ["t1", "t2"] };
        var train = CsvDataset.Read(Write("train.csv", "a,t1,t2\n1,2,3\n4,5,6\n"), options);
        var test = CsvDataset.ReadLike(Write("test.csv", "t2,a,t1\n30,10,20\n"), train, new CsvOptions { Task = TaskKind.Regression });
        Assert.Equal(["t1", "t2"], test.TargetNames);
        Assert.Equal([20f, 30f], test.Targets.ToArray());
        Assert.Throws<ArgumentException>(() => CsvDataset.ReadLike(_dir.File("test.csv"), train));
    }

    [Fact]
    public void SubsetKeepsFeatureNames()
    {
        var set = CsvDataset.Read(Write("s.csv", "a,b,y\n1,2,p\n3,4,q\n5,6,p\n"));
        var sub = set.Subset([2, 0], "sub");
        Assert.Equal(["a", "b"], sub.FeatureNames);
        Assert.Equal([5f, 6f, 1f, 2f], sub.Features.ToArray());
        Assert.Throws<ArgumentException>(() => TensorSet.ForClassification([1f, 2f], [2], [0], featureNames: ["only one"]));
    }

    [Fact]
    public void LargeFileStreamsIntoTheRightValues()
    {
        const int rows = 20_000, features = 8;
        var path = _dir.File("big.csv");
        using (var w = new StreamWriter(path))
        {
            w.WriteLine(string.Join(',', Enumerable.Range(0, features).Select(f => $"f{f}")) + ",y");
            for (int r = 0; r < rows; r++)
                w.WriteLine(string.Join(',', Enumerable.Range(0, features).Select(f => (r * 0.5 + f).ToString(System.Globalization.CultureInfo.InvariantCulture))) + "," + (r % 3 == 0 ? "a" : "b"));
        }
        var set = CsvDataset.Read(path);
        Assert.Equal(rows, set.Count);
        Assert.Equal(rows * features, set.Features.Length);
        Assert.Equal(19_999 * 0.5f + 7, set.Features[^1]);
        Assert.Equal([(rows + 2) / 3, rows - (rows + 2) / 3], set.ClassCounts());
    }
}
