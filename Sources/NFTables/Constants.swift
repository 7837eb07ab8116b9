import CNftnl

/// Kernel and libnftnl constants under their C names, converted once to the integer widths the
/// libnftnl setters take. The C headers import them in three shapes (structs with `rawValue`,
/// `Int`, `Int32`), so every conversion lives here and the rest of the module reads like the
/// uapi headers.
enum Kernel {
    // enum nf_tables_msg_types
    static let NFT_MSG_NEWTABLE = UInt16(CNftnl.NFT_MSG_NEWTABLE.rawValue)
    static let NFT_MSG_GETTABLE = UInt16(CNftnl.NFT_MSG_GETTABLE.rawValue)
    static let NFT_MSG_DELTABLE = UInt16(CNftnl.NFT_MSG_DELTABLE.rawValue)
    static let NFT_MSG_NEWCHAIN = UInt16(CNftnl.NFT_MSG_NEWCHAIN.rawValue)
    static let NFT_MSG_GETCHAIN = UInt16(CNftnl.NFT_MSG_GETCHAIN.rawValue)
    static let NFT_MSG_DELCHAIN = UInt16(CNftnl.NFT_MSG_DELCHAIN.rawValue)
    static let NFT_MSG_NEWRULE = UInt16(CNftnl.NFT_MSG_NEWRULE.rawValue)
    static let NFT_MSG_GETRULE = UInt16(CNftnl.NFT_MSG_GETRULE.rawValue)
    static let NFT_MSG_DELRULE = UInt16(CNftnl.NFT_MSG_DELRULE.rawValue)
    static let NFT_MSG_NEWSET = UInt16(CNftnl.NFT_MSG_NEWSET.rawValue)
    static let NFT_MSG_GETSET = UInt16(CNftnl.NFT_MSG_GETSET.rawValue)
    static let NFT_MSG_DELSET = UInt16(CNftnl.NFT_MSG_DELSET.rawValue)
    static let NFT_MSG_NEWSETELEM = UInt16(CNftnl.NFT_MSG_NEWSETELEM.rawValue)
    static let NFT_MSG_GETSETELEM = UInt16(CNftnl.NFT_MSG_GETSETELEM.rawValue)
    static let NFT_MSG_DELSETELEM = UInt16(CNftnl.NFT_MSG_DELSETELEM.rawValue)

    // Message names for errors, by type.
    static func messageName(_ type: UInt16) -> String {
        switch type {
        case NFT_MSG_NEWTABLE: "NFT_MSG_NEWTABLE"
        case NFT_MSG_DELTABLE: "NFT_MSG_DELTABLE"
        case NFT_MSG_NEWCHAIN: "NFT_MSG_NEWCHAIN"
        case NFT_MSG_DELCHAIN: "NFT_MSG_DELCHAIN"
        case NFT_MSG_NEWRULE: "NFT_MSG_NEWRULE"
        case NFT_MSG_DELRULE: "NFT_MSG_DELRULE"
        case NFT_MSG_NEWSET: "NFT_MSG_NEWSET"
        case NFT_MSG_DELSET: "NFT_MSG_DELSET"
        case NFT_MSG_NEWSETELEM: "NFT_MSG_NEWSETELEM"
        case NFT_MSG_DELSETELEM: "NFT_MSG_DELSETELEM"
        default: "NFT_MSG(\(type))"
        }
    }

    // Netlink flags (Int32 macros).
    static let NLM_F_REQUEST = UInt16(CNftnl.NLM_F_REQUEST)
    static let NLM_F_ACK = UInt16(CNftnl.NLM_F_ACK)
    static let NLM_F_CREATE = UInt16(CNftnl.NLM_F_CREATE)
    static let NLM_F_EXCL = UInt16(CNftnl.NLM_F_EXCL)
    static let NLM_F_APPEND = UInt16(CNftnl.NLM_F_APPEND)
    static let NLM_F_DUMP = UInt16(CNftnl.NLM_F_DUMP)

    // Protocol families (anonymous enum in linux/netfilter.h).
    static let NFPROTO_UNSPEC = UInt16(CNftnl.NFPROTO_UNSPEC)
    static let NFPROTO_INET = UInt16(CNftnl.NFPROTO_INET)
    static let NFPROTO_IPV4 = UInt16(CNftnl.NFPROTO_IPV4)
    static let NFPROTO_IPV6 = UInt16(CNftnl.NFPROTO_IPV6)

    // enum nf_inet_hooks
    static let NF_INET_PRE_ROUTING = UInt32(CNftnl.NF_INET_PRE_ROUTING.rawValue)
    static let NF_INET_LOCAL_IN = UInt32(CNftnl.NF_INET_LOCAL_IN.rawValue)
    static let NF_INET_FORWARD = UInt32(CNftnl.NF_INET_FORWARD.rawValue)
    static let NF_INET_LOCAL_OUT = UInt32(CNftnl.NF_INET_LOCAL_OUT.rawValue)
    static let NF_INET_POST_ROUTING = UInt32(CNftnl.NF_INET_POST_ROUTING.rawValue)

    // Verdicts: NF_DROP/NF_ACCEPT (linux/netfilter.h) and enum nft_verdicts.
    static let NF_DROP = Int32(CNftnl.NF_DROP)
    static let NF_ACCEPT = Int32(CNftnl.NF_ACCEPT)
    static let NFT_CONTINUE = Int32(CNftnl.NFT_CONTINUE.rawValue)
    static let NFT_JUMP = Int32(CNftnl.NFT_JUMP.rawValue)
    static let NFT_GOTO = Int32(CNftnl.NFT_GOTO.rawValue)
    static let NFT_RETURN = Int32(CNftnl.NFT_RETURN.rawValue)

    // enum nft_registers
    static let NFT_REG_VERDICT = UInt32(CNftnl.NFT_REG_VERDICT.rawValue)
    static let NFT_REG_1 = UInt32(CNftnl.NFT_REG_1.rawValue)
    static let NFT_REG_2 = UInt32(CNftnl.NFT_REG_2.rawValue)
    static let NFT_REG32_00 = UInt32(CNftnl.NFT_REG32_00.rawValue)

    // enum nft_set_flags
    static let NFT_SET_ANONYMOUS = UInt32(CNftnl.NFT_SET_ANONYMOUS.rawValue)
    static let NFT_SET_CONSTANT = UInt32(CNftnl.NFT_SET_CONSTANT.rawValue)
    static let NFT_SET_INTERVAL = UInt32(CNftnl.NFT_SET_INTERVAL.rawValue)
    static let NFT_SET_MAP = UInt32(CNftnl.NFT_SET_MAP.rawValue)
    static let NFT_SET_TIMEOUT = UInt32(CNftnl.NFT_SET_TIMEOUT.rawValue)
    static let NFT_SET_EVAL = UInt32(CNftnl.NFT_SET_EVAL.rawValue)
    static let NFT_SET_ELEM_INTERVAL_END = UInt32(CNftnl.NFT_SET_ELEM_INTERVAL_END.rawValue)
    static let NFT_DATA_VERDICT = UInt32(CNftnl.NFT_DATA_VERDICT.rawValue)

    // enum nft_payload_bases
    static let NFT_PAYLOAD_NETWORK_HEADER = UInt32(CNftnl.NFT_PAYLOAD_NETWORK_HEADER.rawValue)
    static let NFT_PAYLOAD_TRANSPORT_HEADER = UInt32(CNftnl.NFT_PAYLOAD_TRANSPORT_HEADER.rawValue)

    // enum nft_cmp_ops
    static let NFT_CMP_EQ = UInt32(CNftnl.NFT_CMP_EQ.rawValue)
    static let NFT_CMP_NEQ = UInt32(CNftnl.NFT_CMP_NEQ.rawValue)

    // enum nft_meta_keys
    static let NFT_META_MARK = UInt32(CNftnl.NFT_META_MARK.rawValue)
    static let NFT_META_IIFNAME = UInt32(CNftnl.NFT_META_IIFNAME.rawValue)
    static let NFT_META_OIFNAME = UInt32(CNftnl.NFT_META_OIFNAME.rawValue)
    static let NFT_META_SKUID = UInt32(CNftnl.NFT_META_SKUID.rawValue)
    static let NFT_META_NFPROTO = UInt32(CNftnl.NFT_META_NFPROTO.rawValue)
    static let NFT_META_L4PROTO = UInt32(CNftnl.NFT_META_L4PROTO.rawValue)

    // enum nft_ct_keys
    static let NFT_CT_STATE = UInt32(CNftnl.NFT_CT_STATE.rawValue)

    // enum nft_ng_types
    static let NFT_NG_RANDOM = UInt32(CNftnl.NFT_NG_RANDOM.rawValue)

    // enum nft_fib_result, enum nft_fib_flags
    static let NFT_FIB_RESULT_ADDRTYPE = UInt32(CNftnl.NFT_FIB_RESULT_ADDRTYPE.rawValue)
    static let NFTA_FIB_F_DADDR = UInt32(CNftnl.NFTA_FIB_F_DADDR.rawValue)
    /// `RTN_LOCAL` (linux/rtnetlink.h): what `fib … type` yields for the host's own addresses.
    static let RTN_LOCAL: UInt32 = 2

    // enum nft_lookup_flags
    static let NFT_LOOKUP_F_INV = UInt32(CNftnl.NFT_LOOKUP_F_INV.rawValue)

    // enum nft_dynset_ops
    static let NFT_DYNSET_OP_ADD = UInt32(CNftnl.NFT_DYNSET_OP_ADD.rawValue)
    static let NFT_DYNSET_OP_UPDATE = UInt32(CNftnl.NFT_DYNSET_OP_UPDATE.rawValue)

    // enum nft_reject_types
    static let NFT_REJECT_ICMP_UNREACH = UInt32(CNftnl.NFT_REJECT_ICMP_UNREACH.rawValue)
    static let NFT_REJECT_TCP_RST = UInt32(CNftnl.NFT_REJECT_TCP_RST.rawValue)
    /// ICMP_PORT_UNREACH (linux/icmp.h), the code of nft's plain `reject` for IPv4.
    static let ICMP_PORT_UNREACH: UInt8 = 3

    // enum nft_nat_types
    static let NFT_NAT_DNAT = UInt32(CNftnl.NFT_NAT_DNAT.rawValue)

    // linux/netfilter/nf_nat.h
    static let NF_NAT_RANGE_MAP_IPS = UInt32(CNftnl.NF_NAT_RANGE_MAP_IPS)
    static let NF_NAT_RANGE_PROTO_SPECIFIED = UInt32(CNftnl.NF_NAT_RANGE_PROTO_SPECIFIED)
    static let NF_NAT_RANGE_PROTO_RANDOM_FULLY = UInt32(CNftnl.NF_NAT_RANGE_PROTO_RANDOM_FULLY)

    /// NFT_NAME_MAXLEN (256) counts the terminating NUL.
    static let NFT_NAME_MAXLEN = 256
    /// Netlink attribute lengths are 16 bits: one element list must stay below 64 KiB.
    static let NLA_MAX_PAYLOAD = 65_535

    // libnftnl attribute ids (anonymous enums import as Int).
    static func attr(_ value: Int) -> UInt16 { UInt16(value) }
}

/// nft userspace datatype ids (`enum datatypes` in nftables' datatype.h). The kernel stores
/// them opaquely in `NFTA_SET_KEY_TYPE`/`NFTA_SET_DATA_TYPE`; `nft` uses them to print keys.
/// A concatenation's id is its components' ids packed `TYPE_BITS` (6) bits apart.
enum NFTDatatypeID {
    static let TYPE_VERDICT: UInt32 = 1
    static let TYPE_INTEGER: UInt32 = 4
    static let TYPE_IPADDR: UInt32 = 7
    static let TYPE_IP6ADDR: UInt32 = 8
    static let TYPE_INET_PROTOCOL: UInt32 = 12
    static let TYPE_INET_SERVICE: UInt32 = 13
    static let TYPE_MARK: UInt32 = 19
    static let TYPE_UID: UInt32 = 24
    static let TYPE_CT_STATE: UInt32 = 26
    static let TYPE_IFNAME: UInt32 = 41
    static let TYPE_BITS: UInt32 = 6
}

/// Set user data (`NFTNL_SET_USERDATA`) written the way nft writes it, so `nft list` prints
/// keys and data in the right byte order and `typeof` sets with their expressions.
enum SetUserdata {
    // enum nftnl_udata_set_types
    static let NFTNL_UDATA_SET_KEYBYTEORDER: UInt8 = 0
    static let NFTNL_UDATA_SET_DATABYTEORDER: UInt8 = 1
    static let NFTNL_UDATA_SET_KEY_TYPEOF: UInt8 = 3
    static let NFTNL_UDATA_SET_DATA_TYPEOF: UInt8 = 4
    // NFTNL_UDATA_SET_TYPEOF_EXPR / _DATA
    static let NFTNL_UDATA_SET_TYPEOF_EXPR: UInt8 = 0
    static let NFTNL_UDATA_SET_TYPEOF_DATA: UInt8 = 1
    // nft's `enum byteorder`
    static let BYTEORDER_INVALID: UInt32 = 0
    static let BYTEORDER_HOST_ENDIAN: UInt32 = 1
    static let BYTEORDER_BIG_ENDIAN: UInt32 = 2
    // nft's `enum expr_types` values stored in typeof data
    static let EXPR_VERDICT: UInt32 = 1
    static let EXPR_PAYLOAD: UInt32 = 7
    static let EXPR_META: UInt32 = 9
    static let EXPR_CONCAT: UInt32 = 13
    static let EXPR_NUMGEN: UInt32 = 23
    // nft's proto_desc ids for payload expressions in typeof data
    static let PROTO_DESC_TH: UInt32 = 11
    static let PROTO_DESC_IP: UInt32 = 12
}

/// Rule user data: `NFTNL_UDATA_RULE_COMMENT`, the rule's `comment "…"`.
enum RuleUserdata {
    static let NFTNL_UDATA_RULE_COMMENT: UInt8 = 0
    static let NFTNL_UDATA_COMMENT_MAXLEN = 128
}
