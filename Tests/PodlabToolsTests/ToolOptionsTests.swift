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

    @Test("wget options: -qO-, -O FILE, -T, long forms")
    func wget() throws {
        let quiet = try Wget.parse(["-qO-", "http://10.0.0.1/"])
        #expect(quiet.quiet && quiet.output == "-" && quiet.urls == ["http://10.0.0.1/"])
        let file = try Wget.parse(["-O", "/tmp/x", "-T", "3", "--header=X-A: 1", "--spider", "h"])
        #expect(file.output == "/tmp/x" && file.timeout == 3 && file.headers == ["X-A: 1"] && file.spider)
        #expect(throws: UsageError.self) { try Wget.parse(["-T", "soon", "h"]) }
        #expect(throws: UsageError.self) { try Wget.parse(["-Z", "h"]) }
    }

    @Test("nc modes: listen, port check, connect")
    func netcat() throws {
        let listen = try Netcat.parse(["-l", "-p", "8080", "-k"])
        #expect(listen.listen && listen.keepListening && listen.localPort == 8080)
        #expect(try Netcat.parse(["-lp", "9000"]).localPort == 9000)
        #expect(try Netcat.parse(["-l", "7000"]).localPort == 7000)
        let check = try Netcat.parse(["-z", "-w", "2", "10.0.0.1", "80"])
        #expect(check.zero && check.timeout == 2 && check.host == "10.0.0.1" && check.port == 80)
        let udp = try Netcat.parse(["-uw1", "10.0.0.1", "53"])
        #expect(udp.udp && udp.timeout == 1)
        #expect(throws: UsageError.self) { try Netcat.parse(["10.0.0.1"]) }
        #expect(throws: UsageError.self) { try Netcat.parse(["-l"]) }
        #expect(throws: UsageError.self) { try Netcat.parse(["10.0.0.1", "99999"]) }
    }

    @Test("sleep durations add up, with suffixes", arguments: [
        (["1"], 1.0), (["0.5"], 0.5), (["1m", "30s"], 90.0), (["2h"], 7200.0), (["1d"], 86400.0), (["infinity"], .infinity),
    ] as [([String], Double)])
    func sleepDurations(arguments: [String], seconds: Double) {
        #expect(Basics.sleepDuration(arguments) == seconds)
    }

    @Test("bad sleep durations are refused", arguments: [[], ["x"], ["-1"], ["1y"], [""]])
    func badSleep(arguments: [String]) {
        #expect(Basics.sleepDuration(arguments) == nil)
    }

    @Test("echo -e expands escapes; \\c stops")
    func echoEscapes() {
        #expect(Basics.expandEscapes("a\\tb\\n\\0101") == ("a\tb\nA", false))
        #expect(Basics.expandEscapes("x\\cy") == ("x", true))
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

    @Test("ip route reads /proc/net/route")
    func routes() {
        let table = """
        Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
        eth0\t00000000\t0101F40A\t0003\t0\t0\t0\t00000000\t0\t0\t0
        eth0\t0001F40A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
        eth0\t0101F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0

        """
        #expect(Interfaces.formatRoutes(procNetRoute: table) ==
            "default via 10.244.1.1 dev eth0 \n10.244.1.0/24 dev eth0 scope link metric 100 \n10.244.1.1 dev eth0 scope link \n")
    }

    @Test("the dispatcher knows every tool by name")
    func dispatcher() {
        for name in ["nginx", "httpd", "curl", "wget", "nc", "sh", "sleep", "echo-server", "probe", "busybox", "docker-entrypoint.sh"] {
            #expect(PodlabTools.tools[name] != nil, "\(name)")
        }
        #expect(baseName("/usr/local/bin/httpd-foreground") == "httpd-foreground")
        #expect(baseName("curl") == "curl")
    }
}
