namespace NormNet.Threading;

/// <summary>
/// The thread pool that NormNet's kernels run on: a few dedicated worker threads that split a job into
/// a fixed number of chunks.
/// </summary>
/// <remarks>
/// <para>Results never depend on the thread count: a kernel chooses its chunks from the problem's shape
/// alone and merges partial results in chunk order, so 1 thread and 16 threads give the same bits.</para>
/// <para>A job is a static function pointer and a pointer to an argument struct on the caller's stack, so
/// dispatching allocates nothing. Workers spin briefly after a job (consecutive kernels of a training
/// step follow each other within microseconds) and then sleep.</para>
/// <para>A job uses at most <see cref="ComputeSettings.MaxThreads"/> of the calling thread's
/// <see cref="ComputeSettings.Current"/> settings; workers are started when a job first needs them.</para>
/// </remarks>
public static unsafe class Parallelism
{
    private const int SpinIterations = 2000;

    private static readonly object Gate = new();
    private static readonly object WorkerGate = new();
    private static readonly object WakeGate = new();
    private static readonly List<Thread> Workers = [];

    // The current job. _cursor holds the job's chunk count (high 32 bits) and its next unclaimed chunk (low 32 bits),
    // so a claim reads the index and the count it is checked against in one atomic step: a worker delayed between the
    // two can never check an old job's index against a newer job's count (that ran a chunk twice and let a call return
    // while its chunk still ran). _cursor is published only after every other field is written, and a job ends only
    // when all its chunks are done, so a claim below its count always belongs to the job whose fields are current.
    private static delegate*<void*, int, void> _body;
    private static void* _args;
    private static long _cursor;
    private static int _pending;
    private static int _activeWorkers;
    private static int _generation;
    private static Exception? _failure;

    [ThreadStatic] private static bool _insideJob;

    /// <summary>Runs <paramref name="body"/>(args, i) for i in [0, chunkCount), in parallel where possible.</summary>
    /// <remarks>Chunks may run in any order on any thread; the caller merges their results in a fixed order.
    /// Calls from inside a job, or while another thread's job runs, execute inline.</remarks>
    internal static void For(int chunkCount, void* args, delegate*<void*, int, void> body)
    {
        if (chunkCount <= 0) return;
        int threads = Math.Min(ComputeSettings.Current.MaxThreads, chunkCount);
        if (threads == 1 || _insideJob || !Monitor.TryEnter(Gate))
        {
            RunInline(chunkCount, args, body);
            return;
        }
        try
        {
            EnsureWorkers(threads - 1);
            _failure = null;
            _body = body;
            _args = args;
            _activeWorkers = threads - 1;
            _pending = chunkCount;
            Volatile.Write(ref _cursor, (long)chunkCount << 32);
            lock (WakeGate)
            {
                Interlocked.Increment(ref _generation);
                Monitor.PulseAll(WakeGate);
            }

            _insideJob = true;
            try { RunChunks(); }
            finally { _insideJob = false; }
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) > 0) spin.SpinOnce(-1);
            if (_failure is { } failure)
                throw new AggregateException("A parallel kernel chunk failed.", failure);
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private static void RunInline(int chunkCount, void* args, delegate*<void*, int, void> body)
    {
        bool outer = !_insideJob;
        _insideJob = true;
        try
        {
            for (int i = 0; i < chunkCount; i++) body(args, i);
        }
        finally
        {
            if (outer) _insideJob = false;
        }
    }

    private static void RunChunks()
    {
        while (true)
        {
            // past the count, each thread claims at most once more before it returns, so the low half cannot overflow
            long claim = Interlocked.Increment(ref _cursor) - 1;
            int index = (int)(claim & 0xFFFF_FFFF), count = (int)(claim >> 32);
            if (index >= count) return;
            try
            {
                _body(_args, index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            Interlocked.Decrement(ref _pending);
        }
    }

    private static void EnsureWorkers(int count)
    {
        lock (WorkerGate)
        {
            while (Workers.Count < count)
            {
                int index = Workers.Count;
                var thread = new Thread(() => WorkerLoop(index))
                {
                    IsBackground = true,
                    Name = $"NormNet worker {index + 1}",
                };
                Workers.Add(thread);
                thread.UnsafeStart(); // no execution context to carry: workers read no settings
            }
        }
    }

    private static void WorkerLoop(int index)
    {
        _insideJob = true;
        int seen = 0;
        while (true)
        {
            int generation = WaitForJob(seen);
            seen = generation;
            if (index < Volatile.Read(ref _activeWorkers)) RunChunks();
        }
    }

    private static int WaitForJob(int seen)
    {
        for (int i = 0; i < SpinIterations; i++)
        {
            int g = Volatile.Read(ref _generation);
            if (g != seen) return g;
            Thread.SpinWait(20);
        }
        lock (WakeGate)
        {
            int g;
            while ((g = Volatile.Read(ref _generation)) == seen) Monitor.Wait(WakeGate);
            return g;
        }
    }
}
