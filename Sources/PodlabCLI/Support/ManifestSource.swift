import Foundation
import PodNet

/// The objects of one manifest file (or of stdin), as `apply -f` and `delete -f` read them.
struct ManifestSource {
    /// The file name as given (`-` for stdin), used in messages.
    var name: String
    /// The objects, in the order written.
    var items: [Item]

    /// One object of the file, or why it cannot be read.
    struct Item {
        /// The JSON it was written as (nil when that cannot be told apart, e.g. inside a
        /// typed list whose items leave out their kind).
        var raw: JSONValue?
        var result: Result<AnyKubernetesObject, ObjectDecodingError>
        /// The document it came from, counted from 1.
        var document: Int

        /// A hint when the document is not an object but the table `get` prints (`NAME  READY
        /// STATUS …`), as when `get pod x > pod.yaml` was meant to save the object.
        var tableHint: String? {
            guard case let .string(text)? = raw else { return nil }
            let words = text.split(whereSeparator: \.isWhitespace).prefix(2)
            guard words.first == "NAME", let second = words.last, second.allSatisfy({ $0.isUppercase || $0 == "-" }) else { return nil }
            return "this is the table \"podlab get\" prints, not an object: save the object with \"podlab get pod NAME -o yaml\""
        }
    }

    /// Reads every `-f` argument: files, directories (their .yaml, .yml and .json files,
    /// sorted; with `recursive` also those in subdirectories) and `-` for stdin.
    static func read(_ arguments: [String], recursive: Bool = false, context: CommandContext) throws -> [ManifestSource] {
        var sources: [ManifestSource] = []
        for argument in arguments {
            if argument == "-" {
                sources.append(try parse(context.readStandardInput(), name: "STDIN"))
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                throw CLIError("the path \"\(argument)\" does not exist")
            }
            let files = isDirectory.boolValue ? try manifestFiles(in: argument, recursive: recursive) : [argument]
            if files.isEmpty { throw CLIError("error reading [\(argument)]: recognized file extensions are [.json .yaml .yml]") }
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CLIError("open \(file): permission denied")
                }
                sources.append(try parse(String(decoding: data, as: UTF8.self), name: file))
            }
        }
        return sources
    }

    /// Parses one text; a syntax error fails the whole text, as in kubectl.
    static func parse(_ text: String, name: String) throws -> ManifestSource {
        let documents: [TextDocument]
        do {
            documents = try ManifestText.documents(in: text)
        } catch {
            throw CLIError("error parsing \(name): \(error)")
        }
        var items: [Item] = []
        for (index, document) in documents.enumerated() {
            let results = Manifest.objects(in: document.value)
            var raws: [JSONValue?] = [document.value]
            if case let .string(kind)? = document.value["kind"], kind.hasSuffix("List") {
                let listed = document.value["items"]?.arrayValue ?? []
                raws = listed.map { item in kind == "List" || item["kind"] != nil ? item : nil }
            }
            for (position, result) in results.enumerated() {
                let raw = results.count == raws.count ? raws[position] : nil
                items.append(Item(raw: raw, result: result, document: index + 1))
            }
        }
        return ManifestSource(name: name, items: items)
    }

    private static func manifestFiles(in directory: String, recursive: Bool) throws -> [String] {
        let fm = FileManager.default
        var files: [String] = []
        for entry in try fm.contentsOfDirectory(atPath: directory).sorted() {
            let path = (directory as NSString).appendingPathComponent(entry)
            var isDirectory: ObjCBool = false
            _ = fm.fileExists(atPath: path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                if recursive { files += try manifestFiles(in: path, recursive: true) }
            } else if [".yaml", ".yml", ".json"].contains(where: { entry.hasSuffix($0) }) {
                files.append(path)
            }
        }
        return files
    }
}
