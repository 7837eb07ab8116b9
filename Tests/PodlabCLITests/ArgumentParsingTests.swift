import ArgumentParser
@testable import PodlabCLI
import Testing

@Suite("Every verb parses kubectl's flag forms")
struct ArgumentParsingTests {
    static func parse<T: ParsableCommand>(_ line: String, as type: T.Type) throws -> T {
        let command = try Podlab.parseAsRoot(KubectlArguments.normalize(line.split(separator: " ").map(String.init)))
        return try #require(command as? T)
    }

    @Test func exec() throws {
        let exec = try Self.parse("exec -it nginx -c web -n team -- sh -c hostname", as: Exec.self)
        #expect(exec.session.stdin && exec.session.tty)
        #expect(exec.session.pod == "nginx")
        #expect(exec.session.container == "web")
        #expect(exec.scope.resolvedNamespace == "team")
        #expect(exec.command == ["sh", "-c", "hostname"])
    }

    @Test func logs() throws {
        let logs = try Self.parse("logs pod/nginx -f -c web --tail=5 -p", as: Logs.self)
        #expect(logs.follow && logs.previous)
        #expect(logs.container == "web")
        #expect(logs.tail == 5)
        let positional = try Self.parse("logs nginx web --tail -1", as: Logs.self)
        #expect(positional.containerArgument == "web")
        #expect(positional.tail == -1)
    }

    @Test func delete() throws {
        let delete = try Self.parse("delete pod a b --grace-period=0 --force --wait=false --now", as: Delete.self)
        #expect(delete.resources == ["pod", "a", "b"])
        #expect(delete.gracePeriod == 0 && delete.force && delete.now && !delete.wait)
        let byFile = try Self.parse("delete -f pod.yaml --ignore-not-found", as: Delete.self)
        #expect(byFile.filenames == ["pod.yaml"] && byFile.ignoreNotFound && byFile.wait)
        let all = try Self.parse("delete pods --all -n team --timeout=30s", as: Delete.self)
        #expect(all.all && all.timeout == "30s" && all.scope.namespace == "team")
    }

    @Test func get() throws {
        let get = try Self.parse("get pods -o=wide -l run=nginx -w -A --show-labels", as: Get.self)
        #expect(get.output == "wide" && get.selector == "run=nginx" && get.watch && get.allNamespaces && get.showLabels)
        let named = try Self.parse("--lab lab2 get po nginx -ojson", as: Get.self)
        #expect(named.resources == ["po", "nginx"] && named.output == "json" && named.scope.lab == "lab2")
    }

    @Test func apply() throws {
        let apply = try Self.parse("apply -f a.yaml --filename=b.yaml -R --dry-run=server -o name", as: Apply.self)
        #expect(apply.filenames == ["a.yaml", "b.yaml"] && apply.recursive && apply.dryRun == "server" && apply.output == "name")
    }

    @Test func describeAndEdit() throws {
        #expect(try Self.parse("describe pods nginx-ser", as: Describe.self).resources == ["pods", "nginx-ser"])
        #expect(try Self.parse("describe pod -l run=x", as: Describe.self).selector == "run=x")
        #expect(try Self.parse("edit pods nginx-ser", as: Edit.self).resources == ["pods", "nginx-ser"])
    }

    @Test func labVerbs() throws {
        let up = try Self.parse("up topologies/x.yaml --lab l1 --restart-backoff 2 --timeout 60", as: Up.self)
        #expect(up.topology == "topologies/x.yaml" && up.lab == "l1" && up.restartBackoff == 2 && up.timeout == 60)
        #expect(try Self.parse("down --lab l1", as: Down.self).lab == "l1")
        #expect(try Self.parse("status", as: Status.self).lab == nil)
        let agent = try Self.parse("agent --lab l1 --topology t.yaml --state-root /tmp/s --restart-backoff 1.5", as: Agent.self)
        #expect(agent.lab == "l1" && agent.topology == "t.yaml" && agent.stateRoot == "/tmp/s" && agent.restartBackoff == 1.5)
    }

    @Test func unknownFlagIsAnError() async {
        let t = TestContext(root: "/nonexistent", lab: "podlab")
        #expect(await t.run("get pods --colour") == 64)
        #expect(t.stderr.text.hasPrefix("Error: Unknown option '--colour'"))
    }
}
