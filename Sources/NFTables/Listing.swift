import CNftnl
import Netns
import Addressing

/// What the kernel holds, read back into the typed model: tables, chains (with hook,
/// priority, policy), rules (with handles and counters), and named sets and maps with their
/// elements. Anonymous maps appear inline in the rules that use them.
public struct Ruleset: Sendable, CustomStringConvertible {
    public var tables: [Table] = []
    public var chains: [Chain] = []
    public var sets: [NFTSet] = []
    public var rules: [Rule] = []

    public init(tables: [Table] = [], chains: [Chain] = [], sets: [NFTSet] = [], rules: [Rule] = []) {
        self.tables = tables
        self.chains = chains
        self.sets = sets
        self.rules = rules
    }

    public func chains(in table: Table) -> [Chain] { chains.filter { $0.table.identity == table.identity } }
    public func sets(in table: Table) -> [NFTSet] { sets.filter { $0.table.identity == table.identity } }
    public func rules(in chain: Chain) -> [Rule] { rules.filter { $0.table.identity == chain.table.identity && $0.chain == chain.name } }
    public func chain(_ table: Table, _ name: String) -> Chain? { chains.first { $0.table.identity == table.identity && $0.name == name } }
    public func set(_ table: Table, _ name: String) -> NFTSet? { sets.first { $0.table.identity == table.identity && $0.name == name } }

    /// A readable dump in nft's layout (rules with their handles).
    public var description: String {
        var lines: [String] = []
        for table in tables {
            lines.append("\(table) {")
            for set in sets(in: table) {
                lines.append("\t\(set.identity)")
                if !set.elements.isEmpty { lines.append("\t\telements = { " + set.elements.map(\.description).joined(separator: ", ") + " }") }
            }
            for chain in chains(in: table) {
                lines.append("\tchain \(chain.name) {" + (chain.base.map { " \($0)" } ?? ""))
                for rule in rules(in: chain) { lines.append("\t\t\(rule) # handle \(rule.handle ?? 0)") }
                lines.append("\t}")
            }
            lines.append("}")
        }
        return lines.joined(separator: "\n")
    }
}

extension NFTablesConnection {
    /// Everything in the namespace (or of one family, or one table).
    public func ruleset(family: Family? = nil, table name: String? = nil) throws -> Ruleset {
        var result = Ruleset()
        result.tables = try tables(family: family).filter { name == nil || $0.name == name }
        for table in result.tables {
            result.chains += try chains(in: table)
            let all = try sets(in: table, includeAnonymous: true)
            var anonymous: [String: [SetElement]] = [:]
            for var set in all {
                set.elements = try elements(of: set)
                if set.name.hasPrefix("__") { anonymous[set.name] = set.elements } else { result.sets.append(set) }
            }
            result.rules += try rules(in: table, anonymousElements: anonymous)
        }
        return result
    }

    /// Tables, optionally of one family.
    public func tables(family: Family? = nil) throws -> [Table] {
        try dump(Kernel.NFT_MSG_GETTABLE, family: family?.kernelValue ?? Kernel.NFPROTO_UNSPEC) { _ in }.compactMap { header in
            let t = nftnl_table_alloc()!
            defer { nftnl_table_free(t) }
            guard nftnl_table_nlmsg_parse(header, t) >= 0,
                  let family = Family(kernelValue: nftnl_table_get_u32(t, UInt16(NFTNL_TABLE_FAMILY.rawValue))),
                  let name = nftnl_table_get_str(t, UInt16(NFTNL_TABLE_NAME.rawValue)) else { return nil }
            return Table(family, String(cString: name), handle: nftnl_table_get_u64(t, UInt16(NFTNL_TABLE_HANDLE.rawValue)))
        }
    }

    /// Chains of a table, with hook, priority and policy for base chains.
    public func chains(in table: Table) throws -> [Chain] {
        try dump(Kernel.NFT_MSG_GETCHAIN, family: table.family.kernelValue) { _ in }.compactMap { header in
            let c = nftnl_chain_alloc()!
            defer { nftnl_chain_free(c) }
            guard nftnl_chain_nlmsg_parse(header, c) >= 0,
                  let tableName = nftnl_chain_get_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue)), String(cString: tableName) == table.name,
                  let name = nftnl_chain_get_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue)) else { return nil }
            var chain = Chain(table, String(cString: name), handle: nftnl_chain_get_u64(c, UInt16(NFTNL_CHAIN_HANDLE.rawValue)))
            if nftnl_chain_is_set(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue)),
               let hook = Hook(kernelValue: nftnl_chain_get_u32(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue))),
               let typeName = nftnl_chain_get_str(c, UInt16(NFTNL_CHAIN_TYPE.rawValue)),
               let type = ChainType(rawValue: String(cString: typeName)) {
                let policy: Policy = nftnl_chain_get_u32(c, UInt16(NFTNL_CHAIN_POLICY.rawValue)) == UInt32(Kernel.NF_DROP) ? .drop : .accept
                chain.base = BaseChain(type: type, hook: hook, priority: nftnl_chain_get_s32(c, UInt16(NFTNL_CHAIN_PRIO.rawValue)), policy: policy)
            }
            return chain
        }
    }

    /// Named sets and maps of a table (without elements; see `elements(of:)`).
    public func sets(in table: Table) throws -> [NFTSet] {
        try sets(in: table, includeAnonymous: false)
    }

    func sets(in table: Table, includeAnonymous: Bool) throws -> [NFTSet] {
        try dump(Kernel.NFT_MSG_GETSET, family: table.family.kernelValue) { header in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            _ = nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
            nftnl_set_nlmsg_build_payload(header, s)
        }.compactMap { header in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            guard nftnl_set_nlmsg_parse(header, s) >= 0,
                  let tableName = nftnl_set_get_str(s, UInt16(NFTNL_SET_TABLE.rawValue)), String(cString: tableName) == table.name,
                  let name = nftnl_set_get_str(s, UInt16(NFTNL_SET_NAME.rawValue)) else { return nil }
            let flags = nftnl_set_get_u32(s, UInt16(NFTNL_SET_FLAGS.rawValue))
            if flags & Kernel.NFT_SET_ANONYMOUS != 0 && !includeAnonymous { return nil }
            func u32(_ attr: nftnl_set_attr) -> UInt32 { nftnl_set_get_u32(s, UInt16(attr.rawValue)) }
            func isSet(_ attr: nftnl_set_attr) -> Bool { nftnl_set_is_set(s, UInt16(attr.rawValue)) }
            var keyFields: [Field]?, dataFields: [Field]?
            var length: UInt32 = 0
            if let pointer = nftnl_set_get_data(s, UInt16(NFTNL_SET_USERDATA.rawValue), &length) {
                let bytes = Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
                for attribute in Userdata.parse(bytes[...]) {
                    if attribute.type == SetUserdata.NFTNL_UDATA_SET_KEY_TYPEOF { keyFields = Userdata.parseTypeof(attribute.value) }
                    if attribute.type == SetUserdata.NFTNL_UDATA_SET_DATA_TYPEOF { dataFields = Userdata.parseTypeof(attribute.value) }
                }
            }
            func type(kernelType: UInt32, length: Int, fields: [Field]?) -> SetType? {
                if let fields, SetType.typeof(fields).kernelType == kernelType { return .typeof(fields) }
                return SetType(kernelType: kernelType, length: length)
            }
            guard let key = type(kernelType: u32(NFTNL_SET_KEY_TYPE), length: Int(u32(NFTNL_SET_KEY_LEN)), fields: keyFields) else { return nil }
            var data: SetType?
            if flags & Kernel.NFT_SET_MAP != 0 {
                let dataType = u32(NFTNL_SET_DATA_TYPE)
                data = dataType == Kernel.NFT_DATA_VERDICT ? .verdict : type(kernelType: dataType, length: Int(u32(NFTNL_SET_DATA_LEN)), fields: dataFields)
                guard data != nil else { return nil }
            }
            let kept = SetFlags(rawValue: flags).intersection([.constant, .interval, .timeout, .dynamic])
            return NFTSet(table, String(cString: name), key: key, data: data, flags: flags & Kernel.NFT_SET_ANONYMOUS != 0 ? [] : kept,
                          timeoutMilliseconds: isSet(NFTNL_SET_TIMEOUT) ? nftnl_set_get_u64(s, UInt16(NFTNL_SET_TIMEOUT.rawValue)) : nil,
                          handle: nftnl_set_get_u64(s, UInt16(NFTNL_SET_HANDLE.rawValue)))
        }
    }

    /// The elements of a set or map, sorted by key bytes. Interval sets come back as prefixes
    /// where the range is one (or as single addresses and ranges otherwise).
    public func elements(of set: NFTSet) throws -> [SetElement] {
        var raw: [(key: [UInt8], flags: UInt32, data: [UInt8]?, verdict: Verdict?, timeout: UInt64?)] = []
        let messages = try dump(Kernel.NFT_MSG_GETSETELEM, family: set.table.family.kernelValue) { header in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            _ = nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), set.table.name)
            _ = nftnl_set_set_str(s, UInt16(NFTNL_SET_NAME.rawValue), set.name)
            nftnl_set_elems_nlmsg_build_payload(header, s)
        }
        messages.forEach { header in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            guard nftnl_set_elems_nlmsg_parse(header, s) >= 0, let iterator = nftnl_set_elems_iter_create(s) else { return }
            defer { nftnl_set_elems_iter_destroy(iterator) }
            // `iter_next` returns the current element and advances.
            while let e = nftnl_set_elems_iter_next(iterator) {
                func bytes(_ attr: Int) -> [UInt8]? {
                    guard nftnl_set_elem_is_set(e, UInt16(attr)) else { return nil }
                    var length: UInt32 = 0
                    guard let pointer = nftnl_set_elem_get(e, UInt16(attr), &length) else { return nil }
                    return Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
                }
                var verdict: Verdict?
                if nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_VERDICT)) {
                    let chain = nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_CHAIN)) ? nftnl_set_elem_get_str(e, UInt16(NFTNL_SET_ELEM_CHAIN)).map { String(cString: $0) } : nil
                    verdict = Verdict(code: Int32(bitPattern: nftnl_set_elem_get_u32(e, UInt16(NFTNL_SET_ELEM_VERDICT))), chain: chain)
                }
                let flags = nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_FLAGS)) ? nftnl_set_elem_get_u32(e, UInt16(NFTNL_SET_ELEM_FLAGS)) : 0
                let timeout = nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_TIMEOUT)) ? nftnl_set_elem_get_u64(e, UInt16(NFTNL_SET_ELEM_TIMEOUT)) : nil
                raw.append((bytes(NFTNL_SET_ELEM_KEY) ?? [], flags, bytes(NFTNL_SET_ELEM_DATA), verdict, timeout))
            }
        }
        if set.flags.contains(.interval) && set.keyType.components == [.ipv4Address] {
            return NFTablesConnection.intervals(raw.map { ($0.key, $0.flags & Kernel.NFT_SET_ELEM_INTERVAL_END != 0) })
        }
        // Hash sets dump in bucket order; sort by key bytes so listings are stable.
        raw.sort { $0.key.lexicographicallyPrecedes($1.key) }
        return raw.compactMap { item in
            guard let key = Value.decode(item.key, as: set.keyType) else { return nil }
            var data: Value?
            if let verdict = item.verdict {
                data = .verdict(verdict)
            } else if let bytes = item.data, let type = set.dataType {
                data = Value.decode(bytes, as: type)
            }
            return SetElement(key, data, timeoutMilliseconds: item.timeout)
        }
    }

    /// Pairs interval starts with their ends (the first address after each range).
    static func intervals(_ items: [(key: [UInt8], isEnd: Bool)]) -> [SetElement] {
        let points = items.compactMap { item -> (IPv4Address, Bool)? in
            guard item.key.count >= 4 else { return nil }
            return (IPv4Address(item.key[0], item.key[1], item.key[2], item.key[3]), item.isEnd)
        }.sorted { $0.0 == $1.0 ? $0.1 && !$1.1 : $0.0 < $1.0 }
        var result: [SetElement] = []
        var index = 0
        while index < points.count {
            let (start, isEnd) = points[index]
            index += 1
            if isEnd { continue }
            var last = IPv4Address.broadcast
            if index < points.count, points[index].1, let end = points[index].0.advanced(by: -1) {
                last = end
                index += 1
            }
            result.append(SetElement(rangeValue(start, last)))
        }
        return result
    }

    static func rangeValue(_ first: IPv4Address, _ last: IPv4Address) -> Value {
        if first == last { return .ipv4(first) }
        let size = UInt64(last.value) - UInt64(first.value) + 1
        if size.nonzeroBitCount == 1 {
            let length = 32 - size.trailingZeroBitCount
            if let prefix = try? IPv4Prefix(first, length: length), prefix.lastAddress == last { return .ipv4Prefix(prefix) }
        }
        return .ipv4Range(first, last)
    }

    /// Rules of all chains of a table, in chain order, with handles and counters.
    public func rules(in table: Table) throws -> [Rule] {
        var anonymous: [String: [SetElement]] = [:]
        for set in try sets(in: table, includeAnonymous: true) where set.name.hasPrefix("__") {
            anonymous[set.name] = try elements(of: set)
        }
        return try rules(in: table, anonymousElements: anonymous)
    }

    func rules(in table: Table, anonymousElements: [String: [SetElement]]) throws -> [Rule] {
        try dump(Kernel.NFT_MSG_GETRULE, family: table.family.kernelValue) { header in
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), table.name)
            nftnl_rule_nlmsg_build_payload(header, r)
        }.compactMap { header in
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            guard nftnl_rule_nlmsg_parse(header, r) >= 0,
                  let tableName = nftnl_rule_get_str(r, UInt16(NFTNL_RULE_TABLE.rawValue)), String(cString: tableName) == table.name,
                  let chain = nftnl_rule_get_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue)) else { return nil }
            var instructions: [Instruction] = []
            if let iterator = nftnl_expr_iter_create(r) {
                defer { nftnl_expr_iter_destroy(iterator) }
                while let e = nftnl_expr_iter_next(iterator) { instructions.append(Instruction(expression: e)) }
            }
            var comment: String?
            var length: UInt32 = 0
            if nftnl_rule_is_set(r, UInt16(NFTNL_RULE_USERDATA.rawValue)),
               let pointer = nftnl_rule_get_data(r, UInt16(NFTNL_RULE_USERDATA.rawValue), &length) {
                let bytes = Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
                for attribute in Userdata.parse(bytes[...]) where attribute.type == RuleUserdata.NFTNL_UDATA_RULE_COMMENT {
                    comment = String(decoding: attribute.value.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
            let expressions = RuleDecompiler.decompile(instructions) { anonymousElements[$0] }
            return Rule(table: table, chain: String(cString: chain), expressions, comment: comment,
                        handle: nftnl_rule_get_u64(r, UInt16(NFTNL_RULE_HANDLE.rawValue)))
        }
    }

    /// Sends a dump request (`NLM_F_DUMP`) whose payload `fill` writes; the answers come back
    /// as netlink messages for libnftnl's parsers.
    private func dump(_ type: UInt16, family: UInt16, _ fill: (UnsafeMutablePointer<nlmsghdr>) -> Void) throws -> DumpMessages {
        var request = [UInt8](repeating: 0, count: 4096)
        let length = request.withUnsafeMutableBytes { raw -> Int in
            let header = nftnl_nlmsg_build_hdr(raw.baseAddress!.assumingMemoryBound(to: CChar.self), type, family, Kernel.NLM_F_DUMP, transport.nextSequence())!
            fill(header)
            return Int(header.pointee.nlmsg_len)
        }
        let messages = try transport.dump(Array(request.prefix(length)))
        return DumpMessages(messages: messages)
    }
}

/// Dump answers rebuilt as netlink messages (header + payload) for libnftnl's parsers.
struct DumpMessages {
    var messages: [NetlinkMessage]

    func forEach(_ body: (UnsafePointer<nlmsghdr>) -> Void) {
        _ = compactMap { header -> Bool? in
            body(header)
            return nil
        }
    }

    func compactMap<T>(_ transform: (UnsafePointer<nlmsghdr>) -> T?) -> [T] {
        var result: [T] = []
        var buffer: [UInt8] = []
        for message in messages {
            let length = 16 + message.payload.count
            buffer.removeAll(keepingCapacity: true)
            buffer.reserveCapacity(length)
            withUnsafeBytes(of: UInt32(length)) { buffer += $0 }
            withUnsafeBytes(of: message.type) { buffer += $0 }
            withUnsafeBytes(of: message.flags) { buffer += $0 }
            withUnsafeBytes(of: message.sequence) { buffer += $0 }
            withUnsafeBytes(of: message.portID) { buffer += $0 }
            buffer += message.payload
            let value = buffer.withUnsafeBytes { raw in
                transform(raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self))
            }
            if let value { result.append(value) }
        }
        return result
    }
}
