import PodlabImages

/// `busybox [APPLET [ARGS]]`: the applets podlab implements.
enum Busybox {
    static let banner = "BusyBox v1.36.1 (podlab) multi-call binary."

    static func main(_ context: ToolContext) -> Int32 {
        let applets = ImageCatalog.busyboxApplets.sorted()
        guard let applet = context.arguments.first else {
            context.stdout.write("""
            \(banner)
            Usage: busybox [function [arguments]...]
               or: function [arguments]...

            Currently defined functions:
            \t\(applets.joined(separator: ", "))

            """)
            return 0
        }
        if applet == "--list" {
            context.stdout.write(applets.map { $0 + "\n" }.joined())
            return 0
        }
        let name = baseName(applet)
        guard ImageCatalog.busyboxApplets.contains(name) else {
            context.stderr.line("\(name): applet not found")
            return 127
        }
        return PodlabTools.run(tool: name, arguments: Array(context.arguments.dropFirst()))
    }
}
