namespace NormNet.Data;

/// <summary>The whole resumable state of a <see cref="DataLoader"/>: the epoch and the index, within that epoch's
/// sample order, of the next sample to deliver. Save it in a training checkpoint and restore it with
/// <see cref="DataLoader.Position"/> to get exactly the batches the uninterrupted run would have had.</summary>
/// <param name="Epoch">The epoch, from 0.</param>
/// <param name="Index">The position within the epoch's sample order, from 0.</param>
public readonly record struct LoaderPosition(int Epoch, int Index);
