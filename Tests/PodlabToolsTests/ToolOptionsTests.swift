@testable import PodlabTools
import Testing

@Suite("Tool command lines")
struct ToolOptionsTests {
    @Test("curl options group, take attached or separate values, and keep URLs")
    func curlGrouped() throws {
        let options = try CurlOptions.parse(["-sSfL", "-o/tmp/out", "-m", "5", "--connect-timeout=2", "-H", "X-A: 1", "-XPUT",
                                             "-d", "a=1", "--data-raw", "@b", "-w", "%{http_code}", "--retry", "3", "http://10.0.0.1/", "10.0.0.2"])
        var expected = CurlOptions()
        expected.silent = true
        expected.showError = true
        expected.fail = true
        expected.location = true
        expected.output = "/tmp/out"
        expected.maxTime = 5
        expected.connectTimeout = 2
        expected.headers = ["X-A: 1"]
        expected.method = "PUT"
        expected.data = [.literal("a=1"), .literal("@b")]
        expected.writeOut = "%{http_code}"
        expected.retry = 3
        expected.urls = ["http://10.0.0.1/", "10.0.0.2"]
        #expect(options == expected)
    }

    @Test("curl flags map to their options", arguments: [
        (["-I", "u"], "head"), (["--head", "u"], "head"), (["-i", "u"], "include"), (["-v", "u"], "verbose"),
        (["--fail", "u"], "fail"), (["-G", "u"], "get"), (["--silent", "u"], "silent"), (["-k", "-s", "u"], "silent"),
    ])
    func curlFlags(arguments: [String], flag: String) throws {
        let options = try CurlOptions.parse(arguments)
        let value = switch flag {
        case "head": options.head
        case "include": options.include
        case "verbose": options.verbose
        case "fail": options.fail
        case "get": options.get
        default: options.silent
        }
        #expect(value)
    }

    @Test("curl refuses what it does not know, like curl (exit 2)", arguments: [
        (["--frobnicate", "u"], CurlOptions.ParseError.unknown("--frobnicate")), (["-Z", "u"], .unknown("-Z")),
        (["-o"], .missingValue("-o")), (["--max-time"], .missingValue("--max-time")), (["-m", "soon", "u"], .notANumber("-m")),
    ])
    func curlErrors(arguments: [String], error: CurlOptions.ParseError) {
        #expect(throws: error) { try CurlOptions.parse(arguments) }
    }

    @Test("-d @file reads a file, --data-binary keeps line breaks")
    func curlDataFiles() throws {
        #expect(try CurlOptions.parse(["-d", "@/tmp/x", "--data-binary", "@-", "u"]).data == [.file("/tmp/x", keepLineBreaks: false), .file("-", keepLineBreaks: true)])
    }

    @Test("--write-out expands variables, headers and escapes", arguments: [
        ("%{http_code}\\n", "200\n"), ("code=%{response_code} %%", "code=200 %"), ("%header{content-type}", "text/html"),
        ("%{url_effective}\\t%{size_download}", "http://h/\t612"), ("no vars", "no vars"), ("%{", "%{"),
    ])
    func writeOut(format: String, expected: String) {
        let values = ["http_code": "200", "response_code": "200", "header:content-type": "text/html", "url_effective": "http://h/", "size_download": "612"]
        #expect(CurlWriteOut.expand(format) { values[$0] ?? "?" } == expected)
    }

    @Test("curl's number formats", arguments: [(0.001234, "0.001234"), (1.5, "1.500000"), (12.0000004, "12.000000")])
    func seconds(value: Double, text: String) {
        #expect(CurlWriteOut.seconds(value) == text)
    }

    @Test("meter sizes fit five columns", arguments: [(612, "  612"), (99_999, "99999"), (100_000, "97.6k"), (611_000, " 596k"), (20 * 1024 * 1024, "20.0M")])
    func meterSize(bytes: Int, text: String) {
        #expect(CurlWriteOut.size(bytes) == text)
    }

    @Test("web servers take --port, then $PORT, then their default")
    func ports() throws {
        let context = ToolContext(name: "nginx", arguments: [])
        var arguments = ["-g", "daemon off;", "--port", "8081"]
        #expect(try listeningPort(arguments: &arguments, context: context, defaultPort: 80) == 8081)
        #expect(arguments == ["-g", "daemon off;"])
        var attached = ["--port=9090"]
        #expect(try listeningPort(arguments: &attached, context: context, defaultPort: 80) == 9090)
        var bad = ["--port", "0"]
        #expect(throws: UsageError.self) { try listeningPort(arguments: &bad, context: context, defaultPort: 80) }
    }

    @Test("the dispatcher knows every tool by name")
    func dispatcher() {
        for name in ["nginx", "httpd", "httpd-foreground", "curl", "echo-server", "probe", "docker-entrypoint.sh", "entrypoint.sh"] {
            #expect(PodlabTools.tools[name] != nil, "\(name)")
        }
        // BusyBox provides these; podlab-tools has no shell or applets of its own.
        for name in ["sh", "busybox", "wget", "nc", "sleep", "cat", "echo", "env", "hostname", "ip", "ifconfig"] {
            #expect(PodlabTools.tools[name] == nil, "\(name)")
        }
        #expect(baseName("/usr/local/bin/httpd-foreground") == "httpd-foreground")
        #expect(baseName("curl") == "curl")
    }
}
