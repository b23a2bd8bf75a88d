using System.Globalization;
using NormNet.Data;
using NormNet.Distributed;
using NormNet.Layers;
using NormNet.Losses;
using NormNet.Optim;
using NormNet.Serialization;
using NormNet.Threading;

namespace NormNet.Training;

/// <summary>
/// Trains a network for its data's task (an <see cref="Objective"/>: cross-entropy for classes, mean squared error for
/// regression): takes batches from a <see cref="DataLoader"/>, runs forward, backward and an optimizer step, evaluates on a test set in eval mode at a chosen interval, stops with a
/// <see cref="TrainingDivergedException"/> when the loss stops being finite, and saves and resumes checkpoints
/// that make a resumed run bit-identical to an uninterrupted one.
/// </summary>
/// <remarks>Callbacks (<see cref="StepCompleted"/>, <see cref="Evaluated"/>) let experiments record per-layer
/// statistics; they run on the training thread between steps. The trainer sets the model's
/// <see cref="Module.RequiresInputGradient"/> to false, since the gradient with respect to the data is never used.</remarks>
public sealed class Trainer
{
    /// <summary>Creates a trainer.</summary>
    /// <param name="model">The network; its output is (N, classes).</param>
    /// <param name="optimizer">Updates the model's parameters.</param>
    /// <param name="train">The training batches.</param>
    /// <param name="schedule">Sets the learning rate before each step, or null to keep the optimizer's.</param>
    /// <param name="objective">The loss and metrics; null chooses them from the training data's task (<see cref="Objective.For"/>).</param>
    public Trainer(Module model, Optimizer optimizer, DataLoader train, LearningRateSchedule? schedule = null, Objective? objective = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Train = train ?? throw new ArgumentNullException(nameof(train));
        Schedule = schedule;
        Objective = objective ?? Objective.For(train.Data.Task);
        if (Objective.Task != train.Data.Task)
            throw new ArgumentException($"A {Objective.Task} objective cannot train on {train.Data.Name}, a {train.Data.Task} data set.", nameof(objective));
        Model.RequiresInputGradient = false; // the input is data: its gradient is never used
    }

    /// <summary>The network.</summary>
    public Module Model { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The training data.</summary>
    public DataLoader Train { get; }

    /// <summary>The loss and metrics.</summary>
    public Objective Objective { get; }

    /// <summary>The learning-rate schedule, if any.</summary>
    public LearningRateSchedule? Schedule { get; }

    /// <summary>Steps completed.</summary>
    public long Step { get; private set; }

    /// <summary>The kernel settings (threads, GEMM backend) that this trainer's steps and evaluations run with;
    /// null (the default) leaves the calling thread's <see cref="ComputeSettings.Current"/> in force.</summary>
    public ComputeSettings? Compute { get; set; }

    /// <summary>Data-parallel training over several processes, or null (the default) for this process alone. Setting it
    /// shards the training loader over the ranks and broadcasts rank 0's model and optimizer state; each step then
    /// scales the loss gradient by this rank's share of the global batch, sums the gradients over ranks, reports the
    /// global batch's loss and metric, and ends with rank 0's buffers on every rank (per-rank batch norm), so the
    /// whole model state is bit-identical on all ranks after every step. Only rank 0 evaluates
    /// (<see cref="Run"/>), after all ranks have checked that their parameters are bit-identical.</summary>
    public DataParallel? Parallel
    {
        get => _parallel;
        set
        {
            if (value is not null && !ReferenceEquals(value.Model, Model))
                throw new ArgumentException("The DataParallel was made for another model than this trainer's.", nameof(value));
            _parallel = value;
            if (value is null) { Train.Shard = DataShard.Whole; return; }
            value.Attach(Train);
            value.BroadcastState(Optimizer);
        }
    }

    private DataParallel? _parallel;

    /// <summary>Called after every step.</summary>
    public Action<StepResult>? StepCompleted { get; set; }

    /// <summary>Called after every evaluation.</summary>
    public Action<EvaluationResult>? Evaluated { get; set; }

    /// <summary>Runs one step on the next batch and returns its result.</summary>
    /// <exception cref="TrainingDivergedException">The loss is NaN or infinite; the parameters are not updated.</exception>
    public StepResult RunStep()
    {
        using var scope = ComputeSettings.UseIfGiven(Compute);
        var batch = Train.Next();
        long step = Step + 1;
        Schedule?.Apply(Optimizer, Step);
        if (!Model.Training) Model.Train();
        var logits = Model.Forward(batch.Inputs);
        double loss = Objective.Forward(logits, batch);
        if (_parallel is null && !double.IsFinite(loss)) throw new TrainingDivergedException(step, loss);
        var gradient = Objective.Backward();
        double accuracy = Objective.BatchMetric(logits, batch);
        if (_parallel is not null)
        {
            // every rank sees the global loss, so all stop together on a non-finite one
            (loss, accuracy) = _parallel.CombineStep(loss, accuracy, Objective.Task == TaskKind.Regression, batch.Size, batch.GlobalSize);
            if (!double.IsFinite(loss)) throw new TrainingDivergedException(step, loss);
            DataParallel.ScaleLossGradient(gradient, batch.Size, batch.GlobalSize);
        }
        Optimizer.ZeroGrad();
        Model.Backward(gradient);
        _parallel?.SumGradients();
        Optimizer.Step();
        _parallel?.BroadcastBuffers();
        Step = step;
        var result = new StepResult(step, batch.Epoch, loss, accuracy, Optimizer.LearningRate);
        StepCompleted?.Invoke(result);
        return result;
    }

    /// <summary>Runs until <see cref="Step"/> reaches <paramref name="totalSteps"/>, evaluating on <paramref name="test"/>
    /// every <paramref name="evalEvery"/> steps (and after the last step) when a test loader is given.</summary>
    public void Run(long totalSteps, DataLoader? test = null, long evalEvery = 0, CancellationToken cancel = default)
    {
        while (Step < totalSteps)
        {
            cancel.ThrowIfCancellationRequested();
            RunStep();
            if (test is not null && ((evalEvery > 0 && Step % evalEvery == 0) || Step == totalSteps))
            {
                _parallel?.CheckInSync(Step);
                if (_parallel is null || _parallel.IsRoot) Evaluated?.Invoke(Evaluate(test));
            }
        }
    }

    /// <summary>The largest number of rows <see cref="Evaluate(Module, DataLoader, long, int, Objective?)"/> feeds the model at once by default.</summary>
    public const int DefaultEvaluationBatchSize = 256;

    /// <summary>Evaluates the model in eval mode over one pass of <paramref name="data"/> (use a non-shuffling loader),
    /// restoring the previous mode afterwards; the model sees at most the training batch size at once, so evaluation
    /// needs no more memory than training, whatever the test loader's batch size.</summary>
    public EvaluationResult Evaluate(DataLoader data)
    {
        using var scope = ComputeSettings.UseIfGiven(Compute);
        return Evaluate(Model, data, Step, Train.BatchSize, Objective);
    }

    /// <summary>Evaluates any network in eval mode over one epoch of <paramref name="data"/>, restoring its mode.
    /// Rows whose outputs are not finite count as wrong and are counted in <see cref="EvaluationResult.NonFiniteOutputs"/>.</summary>
    /// <param name="model">The network.</param>
    /// <param name="data">The data, one epoch of which is evaluated (use a non-shuffling loader).</param>
    /// <param name="step">The training step to record in the result.</param>
    /// <param name="maxBatchSize">The most rows fed to the model at once: a larger loader batch is split into pieces,
    /// which bounds the memory of the activations (in eval mode each row's output does not depend on the others,
    /// unless a batch norm layer has <c>trackRunningStats: false</c>).</param>
    /// <param name="objective">The loss and metrics; null chooses them from the data's task.</param>
    public static EvaluationResult Evaluate(Module model, DataLoader data, long step = 0, int maxBatchSize = DefaultEvaluationBatchSize,
        Objective? objective = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        objective ??= Objective.For(data.Data.Task);
        var sum = objective.StartEvaluation(data.Data);
        bool wasTraining = model.Training;
        model.Eval();
        Tensor? piece = null;
        try
        {
            data.Position = new LoaderPosition(data.Epoch, 0);
            foreach (var batch in data.EnumerateEpoch())
                for (int start = 0; start < batch.Size; start += maxBatchSize)
                {
                    int rows = Math.Min(maxBatchSize, batch.Size - start);
                    var inputs = rows == batch.Size ? batch.Inputs : Tensor.CopyRows(batch.Inputs, start, rows, ref piece);
                    sum.Add(model.Forward(inputs), batch, start, rows);
                }
        }
        finally
        {
            model.Train(wasTraining);
        }
        return sum.Result(step);
    }

    /// <summary>Saves model, optimizer, generators, step and data position (plus <paramref name="extra"/> metadata) atomically.</summary>
    public void SaveCheckpoint(string path, IReadOnlyDictionary<string, string>? extra = null)
    {
        var meta = new Dictionary<string, string>(extra ?? new Dictionary<string, string>())
        {
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["data_epoch"] = Train.Position.Epoch.ToString(CultureInfo.InvariantCulture),
            ["data_index"] = Train.Position.Index.ToString(CultureInfo.InvariantCulture),
            ["data_seed"] = Train.Seed.ToString(CultureInfo.InvariantCulture),
            ["batch_size"] = Train.BatchSize.ToString(CultureInfo.InvariantCulture),
        };
        Checkpoint.Save(path, Model, Optimizer, meta);
    }

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint"/> and returns its metadata; the data loader
    /// must have the checkpoint's seed and batch size (checked). Everything, values included (see
    /// <see cref="StateValidation"/>), is checked before anything changes; <paramref name="validate"/> false skips
    /// the value checks, only to inspect a broken run.</summary>
    public IReadOnlyDictionary<string, string> LoadCheckpoint(string path, bool validate = true)
    {
        var file = SafeTensors.Load(path, verifyChecksum: validate);
        var meta = file.Metadata;
        long Get(string key, long max) => StateValidation.CheckRange(
            meta.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long r)
                ? r : throw new InvalidDataException($"{path}: missing or bad metadata '{key}'."), 0, max, $"'{key}'", path);
        if (!meta.TryGetValue("data_seed", out var seed) || !ulong.TryParse(seed, NumberStyles.None, CultureInfo.InvariantCulture, out ulong dataSeed))
            throw new InvalidDataException($"{path}: missing or bad metadata 'data_seed'.");
        long batchSize = Get("batch_size", int.MaxValue);
        if (dataSeed != Train.Seed || batchSize != Train.BatchSize)
            throw new InvalidDataException($"{path}: saved with data seed {dataSeed} and batch size {batchSize}, " +
                $"but this trainer has seed {Train.Seed} and batch size {Train.BatchSize}.");
        long step = Get("step", long.MaxValue), epoch = Get("data_epoch", int.MaxValue), index = Get("data_index", Train.Data.Count);
        Checkpoint.Load(file, path, Model, Optimizer, validate);
        Step = step;
        Train.Position = new LoaderPosition((int)epoch, (int)index);
        return meta;
    }
}
