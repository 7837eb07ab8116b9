/// How a message arrived: UDP answers are bounded (512 bytes, or the client's EDNS size),
/// TCP answers only by the 16-bit length prefix.
enum DNSTransport: Sendable {
    case udp
    case tcp
}

/// Turns one query message into its answer, from a zone. Pure: the servers' loops call it.
enum DNSResponder {
    /// The answer to `message`, or nil when it deserves none (not a query, shorter than a
    /// header).
    static func respond(to message: [UInt8], zone: DNSZone, transport: DNSTransport) -> [UInt8]? {
        switch DNSQueryParser.parse(message) {
        case .drop:
            return nil
        case let .reject(id, flags, rcode):
            return header(id: id, flags: responseFlags(query: flags, rcode: rcode, authoritative: false), counts: (0, 0, 0, 0))
        case let .query(query):
            return respond(to: query, zone: zone, transport: transport)
        }
    }

    static func respond(to query: DNSQuery, zone: DNSZone, transport: DNSTransport) -> [UInt8] {
        if let edns = query.edns, edns.version != 0 {
            // RFC 6891 6.1.3: an unknown EDNS version gets BADVERS, and no answer.
            return message(query, DNSAnswer(rcode: DNSRcode.badVersion, authoritative: false), limit: Int.max)
        }
        let answer: DNSAnswer
        switch query.type {
        case DNSType.opt:
            answer = DNSAnswer(rcode: DNSRcode.formatError, authoritative: false)
        case DNSType.axfr, DNSType.ixfr:
            // No zone transfers: the zone is the agent's state, not a file to copy.
            answer = DNSAnswer(rcode: DNSRcode.refused, authoritative: false)
        case DNSType.maila, DNSType.mailb:
            answer = DNSAnswer(rcode: DNSRcode.notImplemented, authoritative: false)
        default:
            if query.qclass == DNSClass.internet || query.qclass == DNSClass.any {
                answer = zone.answer(name: query.name, type: query.type)
            } else {
                answer = .refused
            }
        }
        let limit: Int
        switch transport {
        case .tcp: limit = 65535
        case .udp: limit = query.edns.map { min($0.udpPayloadSize, DNSLimit.serverUDPPayload) } ?? DNSLimit.classicUDPPayload
        }
        return message(query, answer, limit: limit)
    }

    /// Lays the answer out; over `limit`, the additional section goes first (it is optional,
    /// RFC 2181 9), and if the rest still does not fit, the answer is sent truncated (TC) with
    /// no records, so the client retries over TCP.
    static func message(_ query: DNSQuery, _ answer: DNSAnswer, limit: Int) -> [UInt8] {
        let rcode = answer.rcode
        var flags = responseFlags(query: query.flags, rcode: rcode & 0x0F, authoritative: answer.authoritative)
        let opt = query.edns.map { optRecord(extendedRcode: UInt8(rcode >> 4), dnssecOK: $0.dnssecOK) } ?? []
        let base = DNSLimit.headerSize + query.question.count + opt.count
        var sections = (answer: answer.answer, an: answer.answerCount, authority: answer.authority, ns: answer.authorityCount,
                        additional: answer.additional, ar: answer.additionalCount)
        if base + sections.answer.count + sections.authority.count + sections.additional.count > limit {
            sections.additional = []
            sections.ar = 0
            if base + sections.answer.count + sections.authority.count > limit {
                flags |= DNSFlag.truncated
                sections = ([], 0, [], 0, [], 0)
            }
        }
        var bytes = header(id: query.id, flags: flags,
                           counts: (1, sections.an, sections.ns, sections.ar + (opt.isEmpty ? 0 : 1)))
        bytes.reserveCapacity(base + sections.answer.count + sections.authority.count + sections.additional.count)
        bytes += query.question
        bytes += sections.answer
        bytes += sections.authority
        bytes += sections.additional
        bytes += opt
        return bytes
    }

    /// QR set; the opcode, RD and CD copied from the query; RA clear (this server does not
    /// recurse); AA for names of its own zones.
    static func responseFlags(query: UInt16, rcode: UInt16, authoritative: Bool) -> UInt16 {
        var flags = DNSFlag.response | (query & (DNSFlag.opcodeMask | DNSFlag.recursionDesired | DNSFlag.checkingDisabled))
        if authoritative { flags |= DNSFlag.authoritative }
        return flags | (rcode & 0x0F)
    }

    static func header(id: UInt16, flags: UInt16, counts: (UInt16, UInt16, UInt16, UInt16)) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(DNSLimit.headerSize)
        for value in [id, flags, counts.0, counts.1, counts.2, counts.3] { bytes.appendBigEndian(value) }
        return bytes
    }

    /// The server's OPT: its UDP size, the extended rcode's upper bits, version 0, DO echoed.
    static func optRecord(extendedRcode: UInt8, dnssecOK: Bool) -> [UInt8] {
        var bytes: [UInt8] = [0]
        bytes.appendBigEndian(DNSType.opt)
        bytes.appendBigEndian(UInt16(DNSLimit.serverUDPPayload))
        bytes += [extendedRcode, 0, dnssecOK ? 0x80 : 0, 0]
        bytes.appendBigEndian(UInt16(0))
        return bytes
    }
}
