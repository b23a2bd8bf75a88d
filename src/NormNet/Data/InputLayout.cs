namespace NormNet.Data;

/// <summary>The shape of the input tensors a <see cref="DataLoader"/> produces.</summary>
public enum InputLayout
{
    /// <summary>(B, H * W): one row of pixels per image, for multilayer perceptrons.</summary>
    Flattened,

    /// <summary>(B, 1, H, W): one channel per image, for convolutional networks.</summary>
    Image,
}
