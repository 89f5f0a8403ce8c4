using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;

namespace FashionGpu.Kernels;

/// <summary>A kernel the device's driver would not compile; the message carries the driver's build log.</summary>
public sealed class KernelCompilationException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Turns a failed kernel build into a message a user can act on. ILGPU reports an OpenCL build
/// failure as a bare error code; the driver's log (which says what it rejected) is fetched here
/// by building each kernel's generated source again until the one that fails is found.
/// </summary>
public static class KernelCompilation
{
    public static T Compile<T>(Accelerator accelerator, Func<T> compile)
    {
        try
        {
            return compile();
        }
        catch (Exception e) when (e is CLException or InvalidOperationException or NotSupportedException)
        {
            string detail = accelerator is CLAccelerator cl ? FindBuildLog(cl) ?? e.Message : e.Message;
            throw new KernelCompilationException($"the kernels did not compile on {accelerator.Name} ({accelerator.AcceleratorType}): {detail}", e);
        }
    }

    /// <summary>"KERNEL: LOG" for the first kernel of this assembly whose OpenCL source the driver rejects, or null.</summary>
    public static string? FindBuildLog(CLAccelerator accelerator)
    {
        var kernels = typeof(KernelCompilation).Assembly.GetTypes()
            .Where(t => t.IsClass && t.IsAbstract && t.IsSealed && t.Name.EndsWith("Kernels", StringComparison.Ordinal))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void) && m.GetParameters().Length > 0 && !m.IsGenericMethodDefinition);
        foreach (var method in kernels)
        {
            try
            {
                var entry = typeof(IIndex).IsAssignableFrom(method.GetParameters()[0].ParameterType) && method.GetParameters()[0].ParameterType.Name.StartsWith("Index", StringComparison.Ordinal)
                    ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
                    : EntryPointDescription.FromExplicitlyGroupedKernel(method);
                var compiled = (CLCompiledKernel)accelerator.Backend.Compile(entry, KernelSpecialization.Empty);
                var status = CLKernel.LoadKernel(accelerator, compiled.Name, compiled.Source, compiled.CVersion, out var program, out var kernel, out var log);
                if (kernel != IntPtr.Zero) CLAPI.CurrentAPI.ReleaseKernel(kernel);
                if (program != IntPtr.Zero) CLAPI.CurrentAPI.ReleaseProgram(program);
                if (status != CLError.CL_SUCCESS)
                    return $"{method.DeclaringType!.Name}.{method.Name}: {status}: {string.Join(" | ", (log ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))}";
            }
            catch (Exception)
            {
                // Not a kernel entry point, or it fails before reaching the driver: keep looking.
            }
        }
        return null;
    }
}
