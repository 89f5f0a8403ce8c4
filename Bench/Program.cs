// Benchmarks come with the performance work; this entry point keeps the project buildable.
Console.WriteLine("No benchmarks yet.");
