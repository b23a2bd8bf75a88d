using NormNet.DistributedChild;

// Usage: NormNet.DistributedChild SCENARIO [ARGS...], started by mpiexec -n N (or alone, as one rank).
// Every rank prints lines "rank R: ..."; the exit code is 0 when the scenario's own checks pass.
return Scenarios.Run(args);
