import Testing
@testable import PodNet

@Suite("dryRun query parameter")
struct DryRunTests {
    @Test("absent: a real request; All (once or repeated): a dry run", arguments: [
        ([], false), (["All"], true), (["All", "All"], true),
    ])
    func accepted(values: [String], dryRun: Bool) throws {
        #expect(try DryRun.isRequested(values, options: .create) == dryRun)
    }

    @Test("any other value is the API server's 422 on the request's options")
    func refused() {
        #expect(throws: APIStatus.self) { try DryRun.isRequested(["all"], options: .create) }
        do {
            _ = try DryRun.isRequested(["Some"], options: .create)
            Issue.record("dryRun=Some was accepted")
        } catch {
            #expect(error.code == 422)
            #expect(error.reason == .invalid)
            #expect(error.message == #"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}: supported values: "All""#)
            #expect(error.details == APIStatus.Details(group: "meta.k8s.io", kind: "CreateOptions", causes: [
                APIStatus.Cause(reason: "FieldValueNotSupported", message: #"Unsupported value: []string{"Some"}: supported values: "All""#, field: "dryRun"),
            ]))
            #expect(error.kubectlMessage == #"The CreateOptions "" is invalid: dryRun: Unsupported value: []string{"Some"}: supported values: "All""#)
        }
    }

    @Test("each verb names its own options; every value is listed", arguments: [
        (DryRun.Options.update, ["All", ""], #"UpdateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"All", ""}: supported values: "All""#),
        (DryRun.Options.delete, ["true"], #"DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"true"}: supported values: "All""#),
        (DryRun.Options.patch, ["x\"y"], #"PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"x\"y"}: supported values: "All""#),
    ])
    func optionsKinds(options: DryRun.Options, values: [String], message: String) {
        #expect { try DryRun.isRequested(values, options: options) } throws: { error in
            (error as? APIStatus)?.message == message
        }
    }
}
