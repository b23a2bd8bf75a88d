namespace NormNet.Distributed;

/// <summary>An MPI call failed, or the MPI library could not be found or started; the message names the call and
/// gives the library's own error text.</summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MpiException(string message) : base(message) { }

    /// <summary>Creates the exception with its cause.</summary>
    public MpiException(string message, Exception inner) : base(message, inner) { }
}
