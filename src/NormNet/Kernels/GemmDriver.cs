using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// The managed GEMM's blocking (BLIS loop order) and threading. C is cut into at most one rectangular chunk
/// per thread; each chunk runs the whole blocked product for its rectangle on one thread with that thread's
/// own packing buffers, so chunks never wait for each other.
/// </summary>
/// <remarks>
/// Within a chunk: for each block of Nc columns, for each block of Kc steps, pack op(B) (Kc x Nc, in L2/L3);
/// for each block of Mc rows, pack op(A) (Mc x Kc, in L2) when A is transposed, or read a row-major A where it lies
/// (<see cref="ABlock"/>); then run the micro-kernel over every Mr x Nr tile (the Kc x Nr panel of B stays in L1 while
/// the A panels stream past it). When B is not transposed and op(A)
/// has few rows, each B element is used by few tiles and copying it costs more than it saves: the kernel then
/// reads B's full panels in place (rows ldb apart) and only a partial last panel is packed (with AVX-512 that one too is
/// read in place, by masked loads: <see cref="GemmMaskedTile"/>, <see cref="IGemmKernel.RunRow4Masked"/>).
/// The chunks depend on the thread count, but only decide which thread computes an element, never how: the
/// Kc blocks depend on k alone and every element is one FMA chain per Kc block in every tile, so results are
/// bit-identical for any thread count.
/// </remarks>
internal static unsafe class GemmDriver
{
    /// <summary>Most steps of k per packed block (the B panel of one tile, Kc x Nr floats, is sized for L1).</summary>
    internal const int KcMax = 256;
    /// <summary>Rows of op(A) per packed block (Mc x Kc floats, sized for L2); a multiple of every Mr.</summary>
    internal const int Mc = 144;
    /// <summary>Columns of op(B) per packed block; a multiple of every Nr.</summary>
    internal const int Nc = 1024;
    /// <summary>Packing cost per element of op(A) or op(B), in flops of micro-kernel time (measured: packing
    /// moves ~9 elements/ns, the micro-kernel does ~200 GFLOP/s).</summary>
    private const double PackFlops = 22;
    /// <summary>Cost of handing chunks to other threads, in flops of micro-kernel time. Waking a worker costs ~3 us, but
    /// the real price is paid afterwards: the layers that read a product computed on two cores find half of it in the
    /// other core's cache (measured on the paper's MLP step: BN, sigmoid and SGD ran 2-4x slower, and the whole step
    /// was 25% slower on 2 threads than on 1). So only products above ~100 us of work are split.</summary>
    private const double DispatchFlops = 2e7;
    /// <summary>Products with at most this many outputs (a batch-1 Linear: 1 x 128) pay only the wake-up for a split
    /// (<see cref="WakeFlops"/>): what the next layer reads from the other core's cache is a few cache lines.</summary>
    private const int SmallOutput = 1024;
    /// <summary>Waking a worker, ~10 us, in flops of micro-kernel time. Measured, the cnn's inference model at batch 1 on 2
    /// threads, 2 alternations: its 1 x 3136 x 128 Linear, 1.6 MB of weights that no core's L2 holds, split between the two
    /// cores: 0.071-0.073 -> 0.061-0.064 ms (ONNX Runtime 0.058-0.064).</summary>
    private const double WakeFlops = 2e6;
    private const int MaxChunks = 64;
    /// <summary>Up to this many rows of op(A), a non-transposed B is read in place instead of packed.</summary>
    internal const int InPlaceRows = 144;
    private const int MaxTile = 8 * 32;
    /// <summary>Edge tiles of fewer rows run one row at a time (<see cref="IGemmKernel.RunRow"/>): a row alone is load-bound
    /// (3 loads for 2 FMAs per step) where a full tile is FMA-bound whatever rows it keeps. Measured, 1 thread, AVX-512: m = 1
    /// products 1.3-1.4x faster with B transposed (1x128x3136, 1x100x784, where packing B is most of the time) and 3.3x without
    /// (1x784x100); with 4 rows no faster than the full tile, so rows alone only below that. An edge tile of 4 to Mr - 1 rows
    /// of a full panel runs its first four rows as one tile (<see cref="IGemmKernel.RunFourRows"/>, eight FMA chains).</summary>
    internal const int RowTileRows = 4;

    [ThreadStatic] private static float[]? t_scratch;

    private struct Args
    {
        public float* A, B, C;
        public nint Lda, Ldb, Ldc;
        public int M, N, K, Kc;
        public float Alpha, Beta;
        public bool TransA, TransB, InPlaceB;
        public int RowsPerChunk, ColsPerChunk, ColChunks;
    }

    // C (m x n, ldc) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C; m, n, k > 0, arguments validated
    /// <summary>The blocked, multi-threaded product with micro-kernel <typeparamref name="TK"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TK>(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc) where TK : IGemmKernel
    {
        var args = new Args
        {
            A = a, B = b, C = c, Lda = lda, Ldb = ldb, Ldc = ldc, M = m, N = n, K = k, Kc = KcFor(k),
            Alpha = alpha, Beta = beta, TransA = transA, TransB = transB, InPlaceB = !transB && m <= InPlaceRows,
        };
        int chunks = Plan(m, n, k, TK.Mr, TK.Nr, ComputeSettings.Current.MaxThreads, out args.RowsPerChunk, out args.ColsPerChunk, out args.ColChunks);
        if (chunks == 1) Chunk<TK>(&args, 0);
        else Parallelism.For(chunks, &args, &Chunk<TK>);
    }

    /// <summary>The k blocking: ceil(k / KcMax) blocks of nearly equal size (a multiple of 8 but the last).</summary>
    internal static int KcFor(int k)
    {
        int blocks = (k + KcMax - 1) / KcMax;
        int kc = (k + blocks - 1) / blocks;
        return Math.Min(KcMax, (kc + 7) & ~7);
    }

    /// <summary>Splits C into rowChunks x colChunks rectangles of whole tiles, at most one per thread, choosing
    /// the split with the least estimated time per chunk: its padded flops plus packing its own A and B,
    /// plus a dispatch cost when it uses more than one thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int Plan(int m, int n, int k, int mr, int nr, int threads, out int rowsPerChunk, out int colsPerChunk, out int colChunks)
    {
        int rowTiles = (m + mr - 1) / mr, colTiles = (n + nr - 1) / nr;
        int bestRows = 1, bestCols = 1;
        double bestCost = double.MaxValue;
        int most = Math.Min(Math.Min(threads, MaxChunks), rowTiles * colTiles);
        for (int rowBlocks = 1; rowBlocks <= Math.Min(most, rowTiles); rowBlocks++)
            for (int colBlocks = 1; rowBlocks * colBlocks <= most && colBlocks <= colTiles; colBlocks++)
            {
                // the largest chunk's rows and columns, padded to whole tiles
                double rows = (rowTiles + rowBlocks - 1) / rowBlocks * mr, cols = (colTiles + colBlocks - 1) / colBlocks * nr;
                double cost = (2 * rows * cols + PackFlops * (rows + cols)) * k + (rowBlocks * colBlocks > 1 ? DispatchCost(m, n) : 0);
                if (cost < bestCost * 0.99)
                {
                    bestCost = cost;
                    bestRows = rowBlocks;
                    bestCols = colBlocks;
                }
            }
        rowsPerChunk = (rowTiles + bestRows - 1) / bestRows * mr;
        colsPerChunk = (colTiles + bestCols - 1) / bestCols * nr;
        colChunks = (n + colsPerChunk - 1) / colsPerChunk;
        return (m + rowsPerChunk - 1) / rowsPerChunk * colChunks;
    }

    /// <summary>What handing a product's chunks to other threads costs: <see cref="DispatchFlops"/>, or only
    /// <see cref="WakeFlops"/> for a small output.</summary>
    private static double DispatchCost(int m, int n) => (long)m * n <= SmallOutput ? WakeFlops : DispatchFlops;

    // C[r0 .. r1, c0 .. c1] (chunk index = row chunk * ColChunks + column chunk) = alpha * op(A) op(B) + beta * C there
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunk<TK>(void* state, int index) where TK : IGemmKernel
    {
        ref Args g = ref *(Args*)state;
        int r0 = index / g.ColChunks * g.RowsPerChunk, r1 = Math.Min(g.M, r0 + g.RowsPerChunk);
        int c0 = index % g.ColChunks * g.ColsPerChunk, c1 = Math.Min(g.N, c0 + g.ColsPerChunk);
        float* packA = Scratch(out float* packB, out float* tile);
        for (int jc = c0; jc < c1; jc += Nc)
        {
            int nc = Math.Min(Nc, c1 - jc);
            for (int pc = 0; pc < g.K; pc += g.Kc)
            {
                int kc = Math.Min(g.Kc, g.K - pc);
                // op(B)[pc .. pc+kc, jc .. jc+nc] -> Nr-wide panels (in place: only a partial last panel)
                float* bInPlace = null;
                if (g.InPlaceB)
                {
                    bInPlace = g.B + pc * g.Ldb + jc;
                    int full = nc - nc % TK.Nr;
                    // rows alone read a partial last panel in place too where loads can be masked (RowsBlock)
                    // it is read in place where loads can be masked: by rows alone (RowsBlock) and by whole tiles (Block, which
                    // packs it itself for any edge tile of fewer rows)
                    if (full < nc && !TK.MaskedTiles && !(r1 - r0 < RowTileRows && TK.MaskedRows))
                        GemmPacking.Contiguous(bInPlace + full, g.Ldb, nc - full, kc, TK.Nr, packB);
                }
                else if (g.TransB) GemmPacking.Strided(g.B + jc * g.Ldb + pc, g.Ldb, nc, kc, TK.Nr, packB);
                else GemmPacking.Contiguous(g.B + pc * g.Ldb + jc, g.Ldb, nc, kc, TK.Nr, packB);
                // the first k block applies beta; later ones add to C
                float beta = pc == 0 ? g.Beta : 1f;
                for (int ic = r0; ic < r1; ic += Mc)
                {
                    int mc = Math.Min(Mc, r1 - ic);
                    // op(A)[ic .. ic+mc, pc .. pc+kc]: A^T packed into Mr-wide panels, A read where it lies
                    var a = new ABlock(packA, 0);
                    if (g.TransA) GemmPacking.Contiguous(g.A + pc * g.Lda + ic, g.Lda, mc, kc, TK.Mr, packA);
                    else a = new ABlock(g.A + ic * g.Lda + pc, g.Lda);
                    Block<TK>(mc, nc, kc, a, packA, bInPlace, g.Ldb, packB, g.C + ic * g.Ldc + jc, g.Ldc, g.Alpha, beta, tile);
                }
            }
        }
    }

    // C block (mc x nc, ldc) = alpha * A block (mc x kc) * B block (kc x nc) + beta * C block, where the B block is
    // packB's panels, or (bInPlace not null) its full panels at bInPlace (row stride ldb) and a partial last one in packB
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TK>(int mc, int nc, int kc, ABlock a, float* packA, float* bInPlace, nint ldb, float* packB,
        float* c, nint ldc, float alpha, float beta, float* tile) where TK : IGemmKernel
    {
        int mr = TK.Mr, nr = TK.Nr;
        if (mc < RowTileRows)
        {
            RowsBlock<TK>(mc, nc, kc, a, bInPlace, ldb, packB, c, ldc, alpha, beta, tile);
            return;
        }
        // A in place: a last panel of 4 to Mr - 1 rows is packed (zero rows after it) for the edge tiles that compute whole panels
        int tailRows = mc % mr;
        if (a.InPlace && tailRows >= RowTileRows && nc % nr != 0) GemmPacking.Strided(a.Row(mc - tailRows, mr, kc), a.Ld, tailRows, kc, mr, packA);
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            // this panel of B: in place (full panels when reading in place), the packed partial panel, or packed
            bool inPlace = bInPlace != null && cols == nr;
            float* b = inPlace ? bInPlace + jr : bInPlace != null ? packB : packB + jr * kc;
            nint bStride = inPlace ? ldb : nr;
            // a partial panel in place where tiles are masked: read where it lies by whole tiles, packed for edge tiles on demand
            bool masked = bInPlace != null && cols < nr && TK.MaskedTiles, packed = false;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                float* ap = a.Row(ir, mr, kc), ct = c + ir * ldc + jr;
                nint rs = a.RowStep, ks = a.KStep(mr);
                if (masked && rows == mr)
                {
                    TK.RunMasked(kc, ap, rs, ks, bInPlace + jr, ldb, cols, ct, ldc, alpha, beta);
                    continue;
                }
                if (masked && !packed)
                {
                    GemmPacking.Contiguous(bInPlace + jr, ldb, cols, kc, nr, packB);
                    packed = true;
                }
                if (rows == mr && cols == nr) TK.Run(kc, ap, rs, ks, b, bStride, ct, ldc, alpha, beta);
                else if (rows == mr && cols == nr / 2) TK.RunHalf(kc, ap, rs, ks, b, bStride, ct, ldc, alpha, beta);
                else EdgeTile<TK>(kc, a, ir, rows, cols, packA, b, bStride, ct, ldc, alpha, beta, tile);
            }
        }
    }

    // C tile (rows x cols at ct, ldc) = alpha * A rows [ir, ir + rows) * the panel b (kc x Nr, row stride bStride) + beta * C tile,
    // rows < Mr or cols < Nr (not Nr / 2)
    /// <summary>A tile at the block's edge: a few rows alone; 4 to Mr - 1 rows of a full panel four in one pass and the others
    /// alone; else the (half) tile into scratch, its valid part merged into C (an A read in place has its partial last panel
    /// packed at packA by <see cref="Block{TK}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EdgeTile<TK>(int kc, ABlock a, int ir, int rows, int cols, float* packA, float* b, nint bStride,
        float* ct, nint ldc, float alpha, float beta, float* tile) where TK : IGemmKernel
    {
        int mr = TK.Mr, nr = TK.Nr;
        float* ap = a.Row(ir, mr, kc);
        nint rs = a.RowStep, ks = a.KStep(mr);
        if (rows < RowTileRows)
        {
            // the last few rows of a taller block: each alone, not a full tile of which most rows are padding
            for (int i = 0; i < rows; i++) RowPanel<TK>(kc, a.Row(ir + i, mr, kc), ks, b, bStride, cols, ct + i * ldc, alpha, beta, tile);
            return;
        }
        if (cols == nr)
        {
            // 4 .. Mr-1 rows of a full panel (m = 60, 100): four in one pass, the others alone, not a padded tile
            TK.RunFourRows(kc, ap, rs, ks, b, bStride, ct, ldc, alpha, beta);
            for (int i = RowTileRows; i < rows; i++) RowPanel<TK>(kc, a.Row(ir + i, mr, kc), ks, b, bStride, cols, ct + i * ldc, alpha, beta, tile);
            return;
        }
        if (rows < mr && a.InPlace)
        {
            ap = packA;
            (rs, ks) = (1, mr);
        }
        if (cols <= nr / 2) TK.RunHalf(kc, ap, rs, ks, b, bStride, tile, nr, 1f, 0f);
        else TK.Run(kc, ap, rs, ks, b, bStride, tile, nr, 1f, 0f);
        MergeEdge(tile, nr, ct, ldc, rows, cols, alpha, beta);
    }

    // C block (mc x nc, ldc), mc < RowTileRows: as Block, one row at a time, four panels per pass
    /// <summary>A block of a few rows (m = 1: a batch-1 Linear): each row alone, over four panels of B at once (eight FMA
    /// chains per step, <see cref="IGemmKernel.RunRow4"/>): full panels read in place (or packed) and stored into C, a
    /// partial last panel (packed) computed into scratch over a copy of C's row and copied back, and up to three
    /// repeats of the last panel into scratch where fewer than four remain. Measured, the paper MLP's batch-1 1 x 784 x 100
    /// (three full panels and a partial one, which had run one panel at a time, each step waiting on one FMA chain's
    /// latency): 6.2-6.3 -> 4.4-4.9 us on 1 and 2 threads; the whole inference model 9.3-9.4 -> 7.6-7.8 us. With AVX-512
    /// the partial panel is then read in place, its loads masked, instead of packed on every call (<see cref="MaskedGroup{TK}"/>):
    /// 4.4-4.9 -> 2.5 us, the model 7.6-7.8 -> 4.5-4.6 us.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsBlock<TK>(int mc, int nc, int kc, ABlock a, float* bInPlace, nint ldb, float* packB,
        float* c, nint ldc, float alpha, float beta, float* tile) where TK : IGemmKernel
    {
        int nr = TK.Nr, panels = (nc + nr - 1) / nr;
        // full panels: in place (ldb apart, each nr columns on) or packed (nr apart, each kc * nr on)
        nint stride = bInPlace != null ? ldb : nr, step = bInPlace != null ? nr : (nint)kc * nr;
        float* first = bInPlace != null ? bInPlace : packB;
        RowPanels group = default;
        for (int i = 0; i < mc; i++)
        {
            float* ai = a.Row(i, TK.Mr, kc), ci = c + i * ldc;
            nint ks = a.KStep(TK.Mr);
            for (int q0 = 0; q0 < panels; q0 += 4)
            {
                int count = Math.Min(4, panels - q0), partial = 0;
                if (bInPlace != null && TK.MaskedRows && nc - (q0 + count - 1) * nr < nr)
                {
                    MaskedGroup<TK>(kc, ai, ks, bInPlace, ldb, first, step, stride, packB, ci, q0, count, nc, alpha, beta, tile, &group);
                    continue;
                }
                for (int q = 0; q < 4; q++)
                {
                    // past the last panel: the last one again, into scratch (tile + q * nr), never read
                    int jr = (q0 + Math.Min(q, count - 1)) * nr, cols = Math.Min(nr, nc - jr);
                    if (cols == nr) group.Set(q, first + jr / nr * step, stride, q < count ? ci + jr : tile + q * nr);
                    else
                    {
                        // a partial last panel is packed: at packB when reading in place, else after the full ones
                        float* b = bInPlace != null ? packB : packB + (nint)jr * kc;
                        group.Set(q, b, nr, tile + q * nr);
                        if (q < count)
                        {
                            // its row of C into scratch, so that beta * c reads it: the same rounding as a full panel's store
                            partial = cols;
                            new ReadOnlySpan<float>(ci + jr, cols).CopyTo(new Span<float>(tile + q * nr, cols));
                        }
                    }
                }
                TK.RunRow4(kc, ai, ks, &group, alpha, beta);
                if (partial > 0)
                {
                    int jr = (q0 + count - 1) * nr;
                    new ReadOnlySpan<float>(tile + (count - 1) * nr, partial).CopyTo(new Span<float>(ci + jr, partial));
                }
            }
        }
    }

    // as a pass of RowsBlock over panels q0 .. q0 + count - 1, the last of them partial and read in place (not packed)
    /// <summary>A group of panels ending in a partial one, where loads can be masked: the full ones in slots 0 .. count - 2,
    /// the partial one in slot 3 read where it lies (<see cref="IGemmKernel.RunRow4Masked"/>) over a copy of C's row in
    /// scratch, copied back; the slots between read packB (scratch, never stored). No panel is packed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedGroup<TK>(int kc, float* a, nint kStep, float* bInPlace, nint ldb, float* first, nint step, nint stride, float* packB,
        float* ci, int q0, int count, int nc, float alpha, float beta, float* tile, RowPanels* group) where TK : IGemmKernel
    {
        int nr = TK.Nr, jp = (q0 + count - 1) * nr, cols = nc - jp;
        for (int q = 0; q < 3; q++)
        {
            int jr = (q0 + q) * nr;
            if (q < count - 1) group->Set(q, first + jr / nr * step, stride, ci + jr);
            else group->Set(q, packB, nr, tile + q * nr);
        }
        new ReadOnlySpan<float>(ci + jp, cols).CopyTo(new Span<float>(tile + 3 * nr, cols));
        group->Set(3, bInPlace + jp, ldb, tile + 3 * nr);
        TK.RunRow4Masked(kc, a, kStep, group, cols, alpha, beta);
        new ReadOnlySpan<float>(tile + 3 * nr, cols).CopyTo(new Span<float>(ci + jp, cols));
    }

    // c[0 .. cols) = alpha * (row a, a[p*kStep]) * (panel b: kc x nr, row stride bStride) + beta * c, cols <= nr
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowPanel<TK>(int kc, float* a, nint kStep, float* b, nint bStride, int cols, float* c, float alpha, float beta, float* tile)
        where TK : IGemmKernel
    {
        if (cols == TK.Nr) TK.RunRow(kc, a, kStep, b, bStride, c, alpha, beta);
        else
        {
            TK.RunRow(kc, a, kStep, b, bStride, tile, 1f, 0f);
            MergeEdge(tile, TK.Nr, c, 0, 1, cols, alpha, beta);
        }
    }

    // c[i, j] = tile[i, j] * alpha (beta = 0) or fma(tile[i, j], alpha, beta * c[i, j]), for i < rows, j < cols
    /// <summary>Merges an edge tile into C with exactly the rounding of the full-tile store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MergeEdge(float* tile, int nr, float* c, nint ldc, int rows, int cols, float alpha, float beta)
    {
        for (int i = 0; i < rows; i++)
        {
            float* t = tile + i * nr, ci = c + i * ldc;
            if (beta == 0) for (int j = 0; j < cols; j++) ci[j] = t[j] * alpha;
            else for (int j = 0; j < cols; j++) ci[j] = MathF.FusedMultiplyAdd(t[j], alpha, beta * ci[j]);
        }
    }

    // element (i, p) of a block of op(A): packed, i in panel q = i / Mr at a[q*kc*Mr + p*Mr + i % Mr]; in place, a[i*Ld + p]
    /// <summary>Where a block of op(A) is read: packed panels (A transposed, whose rows are strided) or, with Ld not 0, a
    /// row-major A where it lies. The micro-kernels read either through a row step and a k step: no copy of A is made for
    /// the forward products x W^T and dy W. Measured, 1 thread: packing the 64 x 3136 A of the cnn's Linear took 27 us of the
    /// product's ~265; 64 x 784 (the paper MLP), 4-7 us of ~59.</summary>
    private readonly struct ABlock(float* a, nint ld)
    {
        public nint Ld => ld;
        public bool InPlace => ld != 0;
        public nint RowStep => ld != 0 ? ld : 1;
        public nint KStep(int mr) => ld != 0 ? 1 : mr;
        /// <summary>Row i of the block (a panel's first row when i is a multiple of Mr).</summary>
        public float* Row(int i, int mr, int kc) => ld != 0 ? a + i * ld : a + (nint)(i / mr) * kc * mr + i % mr;
    }

    /// <summary>This thread's packing buffers (about 1.2 MB), 64-byte aligned, allocated once per thread on the
    /// pinned object heap and freed with the thread.</summary>
    private static float* Scratch(out float* packB, out float* tile)
    {
        const int sizeA = Mc * KcMax, sizeB = Nc * KcMax;
        var buffer = t_scratch ??= GC.AllocateUninitializedArray<float>(sizeA + sizeB + MaxTile + 16, pinned: true);
        float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        p = (float*)(((nuint)p + 63) & ~(nuint)63);
        packB = p + sizeA;
        tile = packB + sizeB;
        return p;
    }
}
