import Testing
@testable import PodNet

/// The cases of Kubernetes' `expansion_test.go` that define the syntax.
@Suite("$(VAR) expansion")
struct VariableExpansionTests {
    static let variables = ["VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": "", "BLU": "BLU"]

    @Test("expands like the kubelet", arguments: [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
        ("$(VAR_REF)", "$(VAR_A)"),
        ("$(VAR_EMPTY)", ""),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$(VAR_A)$(UNKNOWN)", "A$(UNKNOWN)"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("$$", "$"),
        ("$", "$"),
        ("foo$", "foo$"),
        ("$(VAR_A", "$(VAR_A"),
        ("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
        ("$()", "$()"),
        ("$VAR_A", "$VAR_A"),
        ("${VAR_A}", "${VAR_A}"),
        ("$(BLU)é$x", "BLUé$x"),
        ("$é", "$é"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("$(VAR_A)))", "A))"),
        ("((($(VAR_A)", "(((A"),
    ])
    func expand(input: String, expected: String) {
        #expect(VariableExpansion.expand(input, variables: Self.variables) == expected)
    }
}
