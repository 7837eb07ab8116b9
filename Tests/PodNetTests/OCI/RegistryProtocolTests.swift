import Foundation
import PodlabImages
import Testing
@testable import PodNet

@Suite("The registry protocol's pure parts: endpoints, challenges, credentials, error bodies")
struct RegistryProtocolTests {
    @Test("endpoints: docker.io is registry-1.docker.io; the loopback is plain HTTP; others HTTPS", arguments: [
        ("nginx:1.25", "https://registry-1.docker.io", "library/nginx"),
        ("127.0.0.1:5000/team/web:1", "http://127.0.0.1:5000", "team/web"),
        ("localhost:5000/web", "http://localhost:5000", "web"),
        ("registry.test/web:1", "https://registry.test", "web"),
        ("127.example/web:1", "https://127.example", "web"),
    ])
    func endpoints(reference: String, baseURL: String, repository: String) throws {
        let endpoint = RegistryEndpoint(try ImageReference(parsing: reference))
        #expect(endpoint.baseURL == baseURL)
        #expect(endpoint.repository == repository)
        #expect(endpoint.manifestURL("1") == "\(baseURL)/v2/\(repository)/manifests/1")
        #expect(endpoint.pullScope == "repository:\(repository):pull")
    }

    @Test("a Bearer challenge gives the token request; quoted values may hold commas and escapes")
    func bearer() throws {
        let challenge = try #require(AuthChallenge.parse(#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#))
        #expect(challenge.isBearer)
        #expect(challenge.parameters == ["realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/nginx:pull,push"])
        #expect(challenge.tokenURL(scope: "ignored")
            == "https://auth.docker.io/token?service=registry.docker.io&scope=repository:library%2Fnginx:pull%2Cpush")
        let bare = try #require(AuthChallenge.parse(#"Bearer realm="http://127.0.0.1:5001/auth?x=1", error="invalid_token""#))
        #expect(bare.tokenURL(scope: "repository:web:pull") == "http://127.0.0.1:5001/auth?x=1&scope=repository:web:pull")
        #expect(AuthChallenge.parse(#"Basic realm="Registry \"R\"""#) == AuthChallenge(scheme: "Basic", parameters: ["realm": #"Registry "R""#]))
        #expect(AuthChallenge.parse(#"Basic realm="x""#)?.tokenURL(scope: "s") == nil)
        #expect(AuthChallenge.parse("") == nil)
    }

    @Test("credentials from a Docker config: auth or username/password; docker.io under Docker's key; keys with schemes")
    func credentials() throws {
        let auth = Data("ann:s3:cret".utf8).base64EncodedString()
        let config = """
            {"auths": {
              "https://index.docker.io/v1/": {"auth": "\(auth)"},
              "127.0.0.1:5000": {"username": "bob", "password": "pw"},
              "https://registry.test/v2/": {"auth": "\(Data("carol:x".utf8).base64EncodedString())"}
            }}
            """
        #expect(try RegistryCredentials.fromDockerConfig(config, registry: "docker.io") == RegistryCredentials(username: "ann", password: "s3:cret"))
        #expect(try RegistryCredentials.fromDockerConfig(config, registry: "127.0.0.1:5000") == RegistryCredentials(username: "bob", password: "pw"))
        #expect(try RegistryCredentials.fromDockerConfig(config, registry: "registry.test")?.username == "carol")
        #expect(try RegistryCredentials.fromDockerConfig(config, registry: "other.test") == nil)
        #expect(RegistryCredentials(username: "ann", password: "pw").basicAuthorization == "Basic YW5uOnB3")
        #expect(throws: OCIImageError("registry configuration: auths.r.test.auth: not base64 of user:password")) {
            try RegistryCredentials.fromDockerConfig(#"{"auths": {"r.test": {"auth": "!!"}}}"#, registry: "r.test")
        }
    }

    @Test("token answers and error bodies")
    func responses() throws {
        #expect(RegistryResponse.contentRangeStart("bytes 100-199/200") == 100)
        #expect(RegistryResponse.contentRangeStart("bytes 0-0/*") == 0)
        for bad in [nil, "", "bytes */200", "bytes 5-4/9", "bytes -5/9", "items 1-2/3", "bytes x-2/3"] as [String?] {
            #expect(RegistryResponse.contentRangeStart(bad) == nil, "\(bad ?? "nil")")
        }
        #expect(try RegistryResponse.token(Array(#"{"token": "abc", "expires_in": 300}"#.utf8)) == "abc")
        #expect(try RegistryResponse.token(Array(#"{"access_token": "xyz"}"#.utf8)) == "xyz")
        #expect(throws: OCIImageError("the registry's token endpoint answered without a token")) { try RegistryResponse.token(Array("{}".utf8)) }
        let unknown = #"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"2"}}]}"#
        #expect(RegistryResponse.errorMessage(status: 404, body: Array(unknown.utf8)) == "manifest unknown: manifest unknown")
        #expect(RegistryResponse.errorMessage(status: 502, body: Array("<html>".utf8)) == "unexpected status 502")
    }

    @Test("only references that name a registry are pulled", arguments: [
        ("127.0.0.1:5000/web:1", true), ("localhost/web", true), ("docker.io/library/app:1", true), ("registry.test/web", true),
        ("app:1", false), ("team/app:1", false), ("nginx", false),
    ])
    func namesRegistry(reference: String, names: Bool) {
        #expect(ImageSource.namesRegistry(reference) == names)
    }
}
