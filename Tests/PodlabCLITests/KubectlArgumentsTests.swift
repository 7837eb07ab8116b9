import PodlabCLI
import Testing

@Suite("kubectl argument spellings")
struct KubectlArgumentsTests {
    @Test("rewrites", arguments: [
        ("get pods -oyaml", "get pods -o yaml"),
        ("get pods -o=json", "get pods -o json"),
        ("get pods -o wide", "get pods -o wide"),
        ("get pods --output=wide", "get pods --output=wide"),
        ("-n kube-system get pods", "get -n kube-system pods"),
        ("--namespace=x get pods", "get --namespace=x pods"),
        ("--lab l1 -A get pods", "get --lab l1 -A pods"),
        ("delete pod x --wait=false", "delete pod x --no-wait"),
        ("delete pod x --wait=true", "delete pod x --wait"),
        ("run x --image i --rm=true -i=true", "run x --image i --rm -i=true"),
        ("run x --image i --dry-run -o yaml", "run x --image i --dry-run=client -o yaml"),
        ("run x --dry-run client", "run x --dry-run client"),
        ("run x --dry-run=true", "run x --dry-run=client"),
        ("run x --dry-run=false", "run x --dry-run=none"),
        ("logs x --tail -1", "logs x --tail=-1"),
        ("run x --image busybox -- sh -c -oyaml --wait=false", "run x --image busybox -- sh -c -oyaml --wait=false"),
        ("run x --image busybox sleep 10", "run x --image busybox -- sleep 10"),
        ("run --image busybox x sleep -- 10", "run --image busybox x -- sleep 10"),
        ("run x --image=busybox --restart Never -it --rm -- curl -s http://a", "run x --image=busybox --restart Never -it --rm -- curl -s http://a"),
    ])
    func rewrites(input: String, expected: String) {
        let words = input.split(separator: " ").map(String.init)
        #expect(KubectlArguments.normalize(words).joined(separator: " ") == expected)
    }
}
