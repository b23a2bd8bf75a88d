namespace NormNet.Data;

/// <summary>The shape of the input tensors a <see cref="DataLoader"/> produces.</summary>
public enum InputLayout
{
    /// <summary>(B, F): one row of features per sample (an image's C * H * W pixels), for multilayer perceptrons.</summary>
    Flattened,

    /// <summary>(B, C, H, W): images as they are, for convolutional networks.</summary>
    Image,
}
