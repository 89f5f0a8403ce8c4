using System.CommandLine;
using FashionGpu.Cli;
using FashionGpu.Cli.Commands;

var root = new RootCommand("FashionGpu: train and evaluate a CNN on Fashion-MNIST with hand-written ILGPU kernels (CPU, OpenCL, CUDA).")
{
    DevicesCommand.Create(),
    SelftestCommand.Create(),
    TrainCommand.Create(),
    EvaluateCommand.Create(),
    PredictCommand.Create(),
    ReportCommand.Create(),
    BenchCommand.Create(),
    SummaryCommand.Create(),
    ExportCommand.Create(),
};
return CommandLine.Run(root, args);
