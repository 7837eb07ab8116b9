import Addressing

/// An anonymous constant map that a rule carries inline (`vmap { 0 : jump a, 1 : jump b }`):
/// the transaction creates it right before the rule, and the kernel deletes it with the rule.
struct AnonymousMap: Hashable, Sendable {
    /// nft's template; the kernel replaces `%d` with a number.
    static let nameTemplate = "__map%d"
    var setID: UInt32
    var keyType: SetType
    var elements: [SetElement]

    var set: NFTSet {
        NFTSet(Table(.ip, ""), AnonymousMap.nameTemplate, key: keyType, data: .verdict, flags: [.constant])
    }
}

/// Register numbering: `NFT_REG_1`…`NFT_REG_4` are 16-byte registers overlaying the 32-bit
/// registers `NFT_REG32_00`…`15`. nft loads a lone value into `reg 1` and concatenation
/// components into consecutive 32-bit registers (`reg 1`, `reg 9`, `reg 10`, …).
enum Register {
    /// The register for the 32-bit slot `slot` (0 is reg 1, as nft writes it).
    static func forSlot(_ slot: Int) -> UInt32 { slot == 0 ? Kernel.NFT_REG_1 : Kernel.NFT_REG32_00 + UInt32(slot) }

    /// The 32-bit slot a register number starts at.
    static func slot(_ register: UInt32) -> Int {
        if register >= Kernel.NFT_REG32_00 { return Int(register - Kernel.NFT_REG32_00) }
        return Int(register - Kernel.NFT_REG_1) * 4
    }
}

/// Turns a rule's expressions into kernel expressions.
struct RuleCompiler {
    private(set) var instructions: [Instruction] = []
    private(set) var anonymousMaps: [AnonymousMap] = []
    private var allocateSetID: () -> UInt32

    /// Compiles `expressions`; anonymous maps get ids from `allocateSetID`.
    static func compile(_ expressions: [Expression], allocateSetID: @escaping () -> UInt32) -> (instructions: [Instruction], anonymousMaps: [AnonymousMap]) {
        var compiler = RuleCompiler(allocateSetID: allocateSetID)
        for expression in expressions { compiler.emit(expression) }
        return (compiler.instructions, compiler.anonymousMaps)
    }

    private init(allocateSetID: @escaping () -> UInt32) { self.allocateSetID = allocateSetID }

    /// The kernel expression that loads `field` into `register`, reading `length` bytes of a
    /// header field (shorter loads implement byte-aligned prefixes, as nft does).
    static func load(_ field: Field, into register: UInt32, length: UInt32? = nil) -> Instruction {
        switch field {
        case .ipSaddr: .payload(base: Kernel.NFT_PAYLOAD_NETWORK_HEADER, offset: 12, length: length ?? 4, dreg: register)
        case .ipDaddr: .payload(base: Kernel.NFT_PAYLOAD_NETWORK_HEADER, offset: 16, length: length ?? 4, dreg: register)
        case .ipProtocol: .payload(base: Kernel.NFT_PAYLOAD_NETWORK_HEADER, offset: 9, length: 1, dreg: register)
        case .thSport: .payload(base: Kernel.NFT_PAYLOAD_TRANSPORT_HEADER, offset: 0, length: 2, dreg: register)
        case .thDport: .payload(base: Kernel.NFT_PAYLOAD_TRANSPORT_HEADER, offset: 2, length: 2, dreg: register)
        case .l4proto: .meta(key: Kernel.NFT_META_L4PROTO, dreg: register)
        case .iifname: .meta(key: Kernel.NFT_META_IIFNAME, dreg: register)
        case .oifname: .meta(key: Kernel.NFT_META_OIFNAME, dreg: register)
        case .mark: .meta(key: Kernel.NFT_META_MARK, dreg: register)
        case .skuid: .meta(key: Kernel.NFT_META_SKUID, dreg: register)
        case .ctState: .ct(key: Kernel.NFT_CT_STATE, dreg: register)
        case .numgenRandom(let modulus, let offset): .numgen(dreg: register, modulus: modulus, type: Kernel.NFT_NG_RANDOM, offset: offset)
        case .fibDaddrType: .fib(dreg: register, result: Kernel.NFT_FIB_RESULT_ADDRTYPE, flags: Kernel.NFTA_FIB_F_DADDR)
        }
    }

    /// Loads the (concatenated) key into consecutive registers starting at reg 1.
    private mutating func loadKey(_ fields: [Field]) {
        var slot = 0
        for field in fields {
            instructions.append(RuleCompiler.load(field, into: Register.forSlot(slot)))
            slot += (field.dataType.size + 3) / 4
        }
    }

    private mutating func emit(_ expression: Expression) {
        let reg1 = Kernel.NFT_REG_1
        switch expression {
        case .match(.ctState, let relation, let value):
            // `ct state a,b` is true when any listed bit is set: (state & mask) != 0.
            instructions.append(RuleCompiler.load(.ctState, into: reg1))
            instructions.append(.bitwise(sreg: reg1, dreg: reg1, length: 4, mask: value.scalarBytes(), xor: [0, 0, 0, 0]))
            instructions.append(.cmp(sreg: reg1, op: relation == .equal ? Kernel.NFT_CMP_NEQ : Kernel.NFT_CMP_EQ, data: [0, 0, 0, 0]))
        case .match(let field, let relation, .ipv4Prefix(let prefix)) where prefix.length < 32:
            let op = relation == .equal ? Kernel.NFT_CMP_EQ : Kernel.NFT_CMP_NEQ
            let network = prefix.network.octets
            if prefix.length % 8 == 0 && prefix.length > 0 {
                // Byte-aligned prefix: compare only the leading bytes (no bitwise needed).
                let bytes = prefix.length / 8
                instructions.append(RuleCompiler.load(field, into: reg1, length: UInt32(bytes)))
                instructions.append(.cmp(sreg: reg1, op: op, data: Array(network.prefix(bytes))))
            } else {
                instructions.append(RuleCompiler.load(field, into: reg1))
                instructions.append(.bitwise(sreg: reg1, dreg: reg1, length: 4, mask: prefix.netmask.octets, xor: [0, 0, 0, 0]))
                instructions.append(.cmp(sreg: reg1, op: op, data: network))
            }
        case .match(let field, let relation, let value):
            instructions.append(RuleCompiler.load(field, into: reg1))
            instructions.append(.cmp(sreg: reg1, op: relation == .equal ? Kernel.NFT_CMP_EQ : Kernel.NFT_CMP_NEQ, data: value.scalarBytes()))
        case .lookup(let fields, let set, let negated):
            loadKey(fields)
            instructions.append(.lookup(sreg: reg1, dreg: nil, set: set, setID: nil, flags: negated ? Kernel.NFT_LOOKUP_F_INV : 0))
        case .counter(let packets, let bytes):
            instructions.append(.counter(packets: packets, bytes: bytes))
        case .limit(let perSecond, let burst):
            instructions.append(.limit(rate: perSecond, unit: 1, burst: burst, type: 0, flags: 0))
        case .log(let group, let prefix):
            instructions.append(.log(group: group, prefix: prefix))
        case .verdict(let verdict):
            instructions.append(.immediateVerdict(verdict))
        case .verdictMap(let fields, .named(let name)):
            loadKey(fields)
            instructions.append(.lookup(sreg: reg1, dreg: Kernel.NFT_REG_VERDICT, set: name, setID: nil, flags: 0))
        case .verdictMap(let fields, .anonymous(let elements)):
            let map = AnonymousMap(setID: allocateSetID(), keyType: .type(fields.map(\.dataType)), elements: elements)
            anonymousMaps.append(map)
            loadKey(fields)
            instructions.append(.lookup(sreg: reg1, dreg: Kernel.NFT_REG_VERDICT, set: AnonymousMap.nameTemplate, setID: map.setID, flags: 0))
        case .setMark(let mark):
            instructions.append(.immediate(dreg: reg1, data: hostBytes(mark)))
            instructions.append(.metaSet(key: Kernel.NFT_META_MARK, sreg: reg1))
        case .setMarkFromMap(let fields, let map):
            loadKey(fields)
            instructions.append(.lookup(sreg: reg1, dreg: reg1, set: map, setID: nil, flags: 0))
            instructions.append(.metaSet(key: Kernel.NFT_META_MARK, sreg: reg1))
        case .masquerade(let fullyRandom):
            instructions.append(.masq(flags: fullyRandom ? Kernel.NF_NAT_RANGE_PROTO_RANDOM_FULLY : 0, protoMin: nil))
        case .dnat(let address, let port):
            instructions.append(.immediate(dreg: reg1, data: address.octets))
            if let port {
                instructions.append(.immediate(dreg: Kernel.NFT_REG_2, data: Value.port(port).scalarBytes()))
            }
            instructions.append(.nat(type: Kernel.NFT_NAT_DNAT, family: UInt32(Kernel.NFPROTO_IPV4), addrMin: reg1,
                                     protoMin: port == nil ? nil : Kernel.NFT_REG_2, flags: port == nil ? 0 : Kernel.NF_NAT_RANGE_PROTO_SPECIFIED))
        case .dnatMap(let fields, let map):
            // The map's data is `ipv4_addr . inet_service`: address in reg 1, port in the next 32-bit register.
            loadKey(fields)
            instructions.append(.lookup(sreg: reg1, dreg: reg1, set: map, setID: nil, flags: 0))
            instructions.append(.nat(type: Kernel.NFT_NAT_DNAT, family: UInt32(Kernel.NFPROTO_IPV4), addrMin: reg1, protoMin: Register.forSlot(1), flags: 0))
        case .redirect(let port):
            instructions.append(.immediate(dreg: reg1, data: Value.port(port).scalarBytes()))
            instructions.append(.redir(protoMin: reg1, flags: Kernel.NF_NAT_RANGE_PROTO_SPECIFIED))
        case .reject(.tcpReset):
            instructions.append(.reject(type: Kernel.NFT_REJECT_TCP_RST, code: 0))
        case .reject(.icmpPortUnreachable):
            instructions.append(.reject(type: Kernel.NFT_REJECT_ICMP_UNREACH, code: Kernel.ICMP_PORT_UNREACH))
        case .updateSet(let fields, let set, let timeout):
            loadKey(fields)
            instructions.append(.dynset(sreg: reg1, set: set, op: Kernel.NFT_DYNSET_OP_UPDATE, timeout: timeout))
        case .unsupported(let text):
            instructions.append(.other(text))
        }
    }
}

/// Turns a listed rule's kernel expressions back into `Expression`s by following what each
/// register holds. Shapes it does not recognise come back as `.unsupported`.
struct RuleDecompiler {
    private enum Content {
        case field(Field)
        /// A header field loaded partially (a byte-aligned prefix) or masked.
        case prefix(Field, length: Int)
        case masked(Field, mask: [UInt8])
        case constant([UInt8])
        case mapResult([Field], map: String)
    }

    private var registers: [Int: Content] = [:]
    /// Field loads not consumed yet, in order, by 32-bit slot (a lookup takes a run of them).
    private var pending: [(slot: Int, field: Field)] = []
    private var output: [Expression] = []
    private let anonymousElements: (String) -> [SetElement]?

    /// Decompiles `instructions`; `anonymousElements` returns the elements of an anonymous map
    /// by its kernel name (`__map0`), so inline maps come back inline.
    static func decompile(_ instructions: [Instruction], anonymousElements: @escaping (String) -> [SetElement]? = { _ in nil }) -> [Expression] {
        var decompiler = RuleDecompiler(anonymousElements: anonymousElements)
        for instruction in instructions { decompiler.step(instruction) }
        return decompiler.output
    }

    private init(anonymousElements: @escaping (String) -> [SetElement]?) { self.anonymousElements = anonymousElements }

    private static func field(payloadBase base: UInt32, offset: UInt32) -> Field? {
        switch (base, offset) {
        case (Kernel.NFT_PAYLOAD_NETWORK_HEADER, 12): .ipSaddr
        case (Kernel.NFT_PAYLOAD_NETWORK_HEADER, 16): .ipDaddr
        case (Kernel.NFT_PAYLOAD_NETWORK_HEADER, 9): .ipProtocol
        case (Kernel.NFT_PAYLOAD_TRANSPORT_HEADER, 0): .thSport
        case (Kernel.NFT_PAYLOAD_TRANSPORT_HEADER, 2): .thDport
        default: nil
        }
    }

    private static func field(metaKey key: UInt32) -> Field? {
        switch key {
        case Kernel.NFT_META_L4PROTO: .l4proto
        case Kernel.NFT_META_IIFNAME: .iifname
        case Kernel.NFT_META_OIFNAME: .oifname
        case Kernel.NFT_META_MARK: .mark
        case Kernel.NFT_META_SKUID: .skuid
        default: nil
        }
    }

    private mutating func loaded(_ field: Field, register: UInt32, content: Content? = nil) {
        let slot = Register.slot(register)
        registers[slot] = content ?? .field(field)
        pending.removeAll { $0.slot == slot }
        pending.append((slot, field))
    }

    /// Takes the run of pending loads that starts at `register` (a lookup key).
    private mutating func takeKey(at register: UInt32) -> [Field]? {
        let start = Register.slot(register)
        guard let first = pending.firstIndex(where: { $0.slot == start }) else { return nil }
        var fields: [Field] = []
        var slot = start
        for entry in pending[first...] where entry.slot == slot {
            fields.append(entry.field)
            slot += (entry.field.dataType.size + 3) / 4
        }
        pending.removeAll()
        return fields
    }

    private mutating func unsupported(_ instruction: Instruction) {
        output.append(.unsupported(instruction.description))
    }

    private mutating func step(_ instruction: Instruction) {
        switch instruction {
        case .payload(let base, let offset, let length, let dreg):
            guard let field = RuleDecompiler.field(payloadBase: base, offset: offset) else { return unsupported(instruction) }
            let full = UInt32(field.dataType.size)
            if length == full {
                loaded(field, register: dreg)
            } else if field.dataType == .ipv4Address && length < full {
                loaded(field, register: dreg, content: .prefix(field, length: Int(length) * 8))
            } else {
                unsupported(instruction)
            }
        case .meta(let key, let dreg):
            guard let field = RuleDecompiler.field(metaKey: key) else { return unsupported(instruction) }
            loaded(field, register: dreg)
        case .ct(let key, let dreg):
            guard key == Kernel.NFT_CT_STATE else { return unsupported(instruction) }
            loaded(.ctState, register: dreg)
        case .numgen(let dreg, let modulus, let type, let offset):
            guard type == Kernel.NFT_NG_RANDOM else { return unsupported(instruction) }
            loaded(.numgenRandom(modulus: modulus, offset: offset), register: dreg)
        case .fib(let dreg, let result, let flags):
            guard result == Kernel.NFT_FIB_RESULT_ADDRTYPE, flags == Kernel.NFTA_FIB_F_DADDR else { return unsupported(instruction) }
            loaded(.fibDaddrType, register: dreg)
        case .bitwise(let sreg, let dreg, _, let mask, let xor):
            guard xor.allSatisfy({ $0 == 0 }), case .field(let field)? = registers[Register.slot(sreg)] else { return unsupported(instruction) }
            registers[Register.slot(dreg)] = .masked(field, mask: mask)
        case .cmp(let sreg, let op, let data):
            guard op == Kernel.NFT_CMP_EQ || op == Kernel.NFT_CMP_NEQ else { return unsupported(instruction) }
            let relation: Relation = op == Kernel.NFT_CMP_EQ ? .equal : .notEqual
            let slot = Register.slot(sreg)
            pending.removeAll { $0.slot == slot }
            switch registers[slot] {
            case .field(let field)?:
                guard let value = Value.decodeScalar(data, as: field.dataType) else { return unsupported(instruction) }
                // A plain compare of the state bitmask equals the any/none-of test only for one bit.
                if case .ctState(let state) = value, state.rawValue.nonzeroBitCount != 1 { return unsupported(instruction) }
                output.append(.match(field, relation, value))
            case .prefix(let field, let length)?:
                let octets = Array((data + [0, 0, 0, 0]).prefix(4))
                guard let prefix = try? IPv4Prefix(IPv4Address(octets[0], octets[1], octets[2], octets[3]), length: length) else { return unsupported(instruction) }
                output.append(.match(field, relation, .ipv4Prefix(prefix)))
            case .masked(.ctState, let mask)? where data.allSatisfy({ $0 == 0 }):
                guard let state = readHost32(mask) else { return unsupported(instruction) }
                output.append(.match(.ctState, relation == .notEqual ? .equal : .notEqual, .ctState(ConntrackState(rawValue: state))))
            case .masked(let field, let mask)? where field.dataType == .ipv4Address && mask.count == 4 && data.count == 4:
                let bits = mask.reduce(0) { $0 + $1.nonzeroBitCount }
                guard let prefix = try? IPv4Prefix(IPv4Address(data[0], data[1], data[2], data[3]), length: bits),
                      prefix.netmask.octets == mask else { return unsupported(instruction) }
                output.append(.match(field, relation, .ipv4Prefix(prefix)))
            default:
                unsupported(instruction)
            }
        case .lookup(let sreg, let dreg, let set, _, let flags):
            guard let fields = takeKey(at: sreg) else { return unsupported(instruction) }
            switch dreg {
            case nil:
                output.append(.lookup(fields, set: set, negated: flags & Kernel.NFT_LOOKUP_F_INV != 0))
            case Kernel.NFT_REG_VERDICT?:
                if let elements = anonymousElements(set) {
                    output.append(.verdictMap(fields, .anonymous(elements)))
                } else {
                    output.append(.verdictMap(fields, .named(set)))
                }
            case let register?:
                registers[Register.slot(register)] = .mapResult(fields, map: set)
            }
        case .immediate(let dreg, let data):
            registers[Register.slot(dreg)] = .constant(data)
        case .immediateVerdict(let verdict):
            output.append(.verdict(verdict))
        case .counter(let packets, let bytes):
            output.append(.counter(packets: packets, bytes: bytes))
        case .limit(let rate, let unit, let burst, let type, let flags):
            guard unit == 1, type == 0, flags == 0 else { return unsupported(instruction) }
            output.append(.limit(perSecond: rate, burst: burst))
        case .log(let group, let prefix):
            output.append(.log(group: group, prefix: prefix ?? ""))
        case .metaSet(let key, let sreg):
            guard key == Kernel.NFT_META_MARK else { return unsupported(instruction) }
            switch registers[Register.slot(sreg)] {
            case .constant(let data)?: output.append(.setMark(readHost32(data) ?? 0))
            case .mapResult(let fields, let map)?: output.append(.setMarkFromMap(fields, map: map))
            default: unsupported(instruction)
            }
        case .nat(let type, let family, let addrMin, let protoMin, _):
            guard type == Kernel.NFT_NAT_DNAT, family == UInt32(Kernel.NFPROTO_IPV4), let addrMin else { return unsupported(instruction) }
            switch registers[Register.slot(addrMin)] {
            case .mapResult(let fields, let map)? where protoMin.map(Register.slot) == Register.slot(addrMin) + 1:
                output.append(.dnatMap(fields, map: map))
            case .constant(let address)? where address.count == 4:
                var port: UInt16?
                if let protoMin {
                    guard case .constant(let bytes)? = registers[Register.slot(protoMin)], bytes.count >= 2 else { return unsupported(instruction) }
                    port = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
                }
                output.append(.dnat(IPv4Address(address[0], address[1], address[2], address[3]), port: port))
            default:
                unsupported(instruction)
            }
        case .masq(let flags, let protoMin):
            guard protoMin == nil, flags & ~Kernel.NF_NAT_RANGE_PROTO_RANDOM_FULLY == 0 else { return unsupported(instruction) }
            output.append(.masquerade(fullyRandom: flags & Kernel.NF_NAT_RANGE_PROTO_RANDOM_FULLY != 0))
        case .redir(let protoMin, _):
            guard let protoMin, case .constant(let bytes)? = registers[Register.slot(protoMin)], bytes.count >= 2 else { return unsupported(instruction) }
            output.append(.redirect(port: UInt16(bytes[0]) << 8 | UInt16(bytes[1])))
        case .reject(let type, let code):
            if type == Kernel.NFT_REJECT_TCP_RST {
                output.append(.reject(.tcpReset))
            } else if type == Kernel.NFT_REJECT_ICMP_UNREACH && code == Kernel.ICMP_PORT_UNREACH {
                output.append(.reject(.icmpPortUnreachable))
            } else {
                unsupported(instruction)
            }
        case .dynset(let sreg, let set, let op, let timeout):
            guard op == Kernel.NFT_DYNSET_OP_UPDATE, let fields = takeKey(at: sreg) else { return unsupported(instruction) }
            output.append(.updateSet(fields, set: set, timeoutMilliseconds: timeout))
        case .other:
            unsupported(instruction)
        }
    }
}
