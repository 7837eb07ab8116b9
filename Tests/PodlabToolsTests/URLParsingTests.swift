@testable import PodlabTools
import Testing

@Suite("URL parsing")
struct URLParsingTests {
    @Test("http URLs parse into host, port and target", arguments: [
        ("http://10.244.1.2", "10.244.1.2", 80, "/", "10.244.1.2"),
        ("http://10.244.1.2:8080/a/b?c=d#frag", "10.244.1.2", 8080, "/a/b?c=d", "10.244.1.2:8080"),
        ("10.244.1.2", "10.244.1.2", 80, "/", "10.244.1.2"),
        ("10.244.1.2:81/x", "10.244.1.2", 81, "/x", "10.244.1.2:81"),
        ("HTTP://LocalHost:80", "LocalHost", 80, "/", "LocalHost"),
        ("http://[::1]:8080/", "::1", 8080, "/", "[::1]:8080"),
        ("http://user:pw@10.0.0.1/", "10.0.0.1", 80, "/", "10.0.0.1"),
        ("http://web?x=1", "web", 80, "/?x=1", "web"),
    ])
    func parses(text: String, host: String, port: Int, target: String, hostHeader: String) throws {
        let url = try HTTPURL(parsing: text)
        #expect(url.host == host)
        #expect(Int(url.port) == port)
        #expect(url.target == target)
        #expect(url.hostHeader == hostHeader)
    }

    @Test("URLs curl rejects with exit 3", arguments: [
        ("", "No host part in the URL"), ("http://", "No host part in the URL"), ("http://:80/", "No host part in the URL"),
        ("http://10.0.0.1:99999/", "Port number was not a decimal number between 0 and 65535"),
        ("http://10.0.0.1:8x/", "Port number was not a decimal number between 0 and 65535"),
        ("http://a b/", "Malformed input to a URL function"), ("http://[::1/", "Bad IPv6 address"),
        ("http://ex%41mple/", "Malformed input to a URL function"),
    ])
    func malformed(text: String, reason: String) {
        #expect(throws: URLParseError.malformed(reason)) { try HTTPURL(parsing: text) }
    }

    @Test("other protocols are curl's exit 1", arguments: [("https://10.0.0.1", "https"), ("ftp://x/", "ftp"), ("HTTPS://x", "https")])
    func unsupported(text: String, scheme: String) {
        #expect(throws: URLParseError.unsupportedScheme(scheme)) { try HTTPURL(parsing: text) }
        #expect(URLParseError.unsupportedScheme(scheme).description == "Protocol \"\(scheme)\" not supported")
    }

    @Test("redirect locations resolve against the current URL", arguments: [
        ("http://h/a/b", "/c", "http://h/c"), ("http://h/a/b", "c", "http://h/a/c"), ("http://h/a/", "c?d", "http://h/a/c?d"),
        ("http://h:81/a", "http://k/x", "http://k/x"), ("http://h/a", "//k:82/y", "http://k:82/y"),
    ])
    func redirects(base: String, location: String, expected: String) throws {
        #expect(try HTTPURL(parsing: base).resolving(location).description == expected)
    }

    @Test("only IP literals and localhost resolve", arguments: [
        ("10.244.1.2", ["10.244.1.2:80"]), ("localhost", ["127.0.0.1:80", "[::1]:80"]), ("::1", ["[::1]:80"]), ("web", []), ("nginx.default.svc", []),
    ])
    func resolve(host: String, expected: [String]) {
        #expect(HostResolver.resolve(host, port: 80).map(\.description) == expected)
    }

    @Test("Base64 follows RFC 4648", arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("user:pw", "dXNlcjpwdw==")])
    func base64(input: String, output: String) {
        #expect(base64Encode(Array(input.utf8)) == output)
    }
}
