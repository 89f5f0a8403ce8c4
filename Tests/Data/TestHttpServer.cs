using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace FashionGpu.Tests.Data;

/// <summary>
/// A minimal HTTP server on 127.0.0.1 serving fixed files under /datasets/, 404 otherwise.
/// Records every requested path so tests can check what was (not) downloaded.
/// </summary>
internal sealed class TestHttpServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly IReadOnlyDictionary<string, byte[]> _files;
    private readonly Task _loop;

    public TestHttpServer(IReadOnlyDictionary<string, byte[]> files)
    {
        _files = files;
        (_listener, var port) = StartOnFreePort();
        BaseUri = new Uri($"http://127.0.0.1:{port}/datasets/");
        _loop = Task.Run(ServeAsync);
    }

    public Uri BaseUri { get; }

    public ConcurrentQueue<string> RequestedPaths { get; } = new();

    /// <summary>A port on 127.0.0.1 where nothing listens (taken from the OS, then released).</summary>
    public static int UnusedPort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends with an exception when the listener stops; that is expected.
        }
    }

    private static (HttpListener, int) StartOnFreePort()
    {
        // Another process may grab the port between probing and binding; try a few.
        for (var attempt = 0; ; attempt++)
        {
            var port = UnusedPort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return (listener, port);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var path = context.Request.Url!.AbsolutePath;
            RequestedPaths.Enqueue(path);
            const string prefix = "/datasets/";
            var name = path.StartsWith(prefix, StringComparison.Ordinal) ? path[prefix.Length..] : null;
            using var response = context.Response;
            if (name is not null && _files.TryGetValue(name, out var body))
            {
                response.StatusCode = 200;
                response.ContentType = "application/octet-stream";
                response.ContentLength64 = body.Length;
                await response.OutputStream.WriteAsync(body);
            }
            else
            {
                response.StatusCode = 404;
            }
        }
    }
}
