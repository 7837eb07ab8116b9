/// curl's command line, as far as podlab's curl understands it.
struct CurlOptions: Equatable {
    var urls: [String] = []
    var silent = false
    var showError = false
    var verbose = false
    var output: String?
    var head = false
    var include = false
    var maxTime: Double?
    var connectTimeout: Double?
    var headers: [String] = []
    var method: String?
    var data: [DataPart] = []
    var get = false
    var fail = false
    var failWithBody = false
    var writeOut: String?
    var location = false
    var maxRedirects = 50
    var retry = 0
    var retryDelay: Double?
    var retryConnectionRefused = false
    var userAgent: String?
    var user: String?
    var referer: String?
    var http10 = false
    var help = false
    var version = false

    /// One `-d`/`--data*` argument.
    enum DataPart: Equatable {
        case literal(String)
        /// `@file` (`@-` is standard input); `-d` strips line breaks, `--data-binary` keeps them.
        case file(String, keepLineBreaks: Bool)
    }

    /// Why the command line was refused (curl exit 2).
    enum ParseError: Error, Equatable, CustomStringConvertible {
        case unknown(String)
        case missingValue(String)
        case notANumber(String)

        var description: String {
            switch self {
            case let .unknown(option): "option \(option): is unknown"
            case let .missingValue(option): "option \(option): requires parameter"
            case let .notANumber(option): "option \(option): expected a proper numerical parameter"
            }
        }
    }

    private enum Flag {
        case silent, showError, verbose, head, include, fail, failWithBody, location, get, help, version, http10
        case retryConnectionRefused, ignored
    }

    private enum Valued {
        case output, maxTime, connectTimeout, header, request, data, dataRaw, dataBinary, writeOut, maxRedirects, retry, retryDelay
        case userAgent, user, referer, url, ignored
    }

    private static let shortFlags: [Character: Flag] = [
        "s": .silent, "S": .showError, "v": .verbose, "I": .head, "i": .include, "f": .fail, "L": .location, "G": .get,
        "h": .help, "V": .version, "0": .http10, "k": .ignored, "4": .ignored, "6": .ignored, "N": .ignored, "#": .ignored,
        "q": .ignored,
    ]

    private static let shortValued: [Character: Valued] = [
        "o": .output, "m": .maxTime, "H": .header, "X": .request, "d": .data, "w": .writeOut, "A": .userAgent,
        "u": .user, "e": .referer,
    ]

    private static let longFlags: [String: Flag] = [
        "silent": .silent, "show-error": .showError, "verbose": .verbose, "head": .head, "include": .include,
        "fail": .fail, "fail-with-body": .failWithBody, "location": .location, "get": .get, "help": .help,
        "version": .version, "http1.0": .http10, "http1.1": .ignored, "insecure": .ignored, "compressed": .ignored,
        "ipv4": .ignored, "ipv6": .ignored, "no-buffer": .ignored, "no-keepalive": .ignored, "progress-bar": .ignored,
        "no-progress-meter": .ignored, "retry-connrefused": .retryConnectionRefused, "retry-all-errors": .ignored,
        "fail-early": .ignored, "globoff": .ignored, "no-sessionid": .ignored, "tcp-nodelay": .ignored,
    ]

    private static let longValued: [String: Valued] = [
        "output": .output, "max-time": .maxTime, "connect-timeout": .connectTimeout, "header": .header,
        "request": .request, "data": .data, "data-ascii": .data, "data-raw": .dataRaw, "data-binary": .dataBinary,
        "write-out": .writeOut, "max-redirs": .maxRedirects, "retry": .retry, "retry-delay": .retryDelay,
        "user-agent": .userAgent, "user": .user, "referer": .referer, "url": .url, "noproxy": .ignored,
        "retry-max-time": .ignored, "resolve": .ignored, "cacert": .ignored,
    ]

    /// Parses curl's arguments: grouped short options (`-sSfL`), values attached (`-ofile`,
    /// `--max-time=5`) or separate (`-o file`), anything else a URL.
    static func parse(_ arguments: [String]) throws(ParseError) -> CurlOptions {
        var options = CurlOptions()
        var index = 0
        func value(for option: String) throws(ParseError) -> String {
            index += 1
            guard index < arguments.count else { throw .missingValue(option) }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                options.urls += arguments[(index + 1)...]
                break
            }
            if argument.hasPrefix("--") {
                var name = String(argument.dropFirst(2))
                var attached: String?
                if let equals = name.firstIndex(of: "=") {
                    attached = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
                if let flag = longFlags[name], attached == nil {
                    options.apply(flag)
                } else if name.hasPrefix("no-"), longFlags[String(name.dropFirst(3))] != nil, attached == nil {
                    options.unapply(longFlags[String(name.dropFirst(3))]!)
                } else if let valued = longValued[name] {
                    let text: String
                    if let attached { text = attached } else { text = try value(for: argument) }
                    try options.apply(valued, text, option: "--\(name)")
                } else {
                    throw .unknown(argument)
                }
            } else if argument.hasPrefix("-") && argument.count > 1 {
                var characters = Substring(argument.dropFirst())
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if let flag = shortFlags[character] {
                        options.apply(flag)
                    } else if let valued = shortValued[character] {
                        let text: String
                        if characters.isEmpty { text = try value(for: "-\(character)") } else { text = String(characters) }
                        try options.apply(valued, text, option: "-\(character)")
                        break
                    } else {
                        throw .unknown("-\(character)")
                    }
                }
            } else {
                options.urls.append(argument)
            }
            index += 1
        }
        return options
    }

    private mutating func apply(_ flag: Flag) {
        switch flag {
        case .silent: silent = true
        case .showError: showError = true
        case .verbose: verbose = true
        case .head: head = true
        case .include: include = true
        case .fail: fail = true
        case .failWithBody: failWithBody = true
        case .location: location = true
        case .get: get = true
        case .help: help = true
        case .version: version = true
        case .http10: http10 = true
        case .retryConnectionRefused: retryConnectionRefused = true
        case .ignored: break
        }
    }

    private mutating func unapply(_ flag: Flag) {
        switch flag {
        case .silent: silent = false
        case .showError: showError = false
        case .verbose: verbose = false
        case .include: include = false
        case .fail: fail = false
        case .location: location = false
        default: break
        }
    }

    private mutating func apply(_ valued: Valued, _ text: String, option: String) throws(ParseError) {
        func number() throws(ParseError) -> Double {
            guard let value = Double(text), value >= 0, value.isFinite else { throw .notANumber(option) }
            return value
        }
        switch valued {
        case .output: output = text
        case .maxTime: maxTime = try number()
        case .connectTimeout: connectTimeout = try number()
        case .header: headers.append(text)
        case .request: method = text
        case .data: data.append(text.hasPrefix("@") ? .file(String(text.dropFirst()), keepLineBreaks: false) : .literal(text))
        case .dataBinary: data.append(text.hasPrefix("@") ? .file(String(text.dropFirst()), keepLineBreaks: true) : .literal(text))
        case .dataRaw: data.append(.literal(text))
        case .writeOut: writeOut = text
        case .maxRedirects:
            guard let value = Int(text) else { throw .notANumber(option) }
            maxRedirects = value
        case .retry:
            guard let value = Int(text), value >= 0 else { throw .notANumber(option) }
            retry = value
        case .retryDelay: retryDelay = try number()
        case .userAgent: userAgent = text
        case .user: user = text
        case .referer: referer = text
        case .url: urls.append(text)
        case .ignored: break
        }
    }
}
