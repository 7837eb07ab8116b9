/// Standard Base64 (RFC 4648) with padding, for `Authorization: Basic`.
func base64Encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    let input = Array(bytes)
    var output = ""
    var index = 0
    while index < input.count {
        let count = min(3, input.count - index)
        var block: UInt32 = 0
        for offset in 0..<3 { block = block << 8 | UInt32(offset < count ? input[index + offset] : 0) }
        for position in 0..<4 {
            output.append(position <= count ? alphabet[Int(block >> UInt32(18 - 6 * position) & 0x3F)] : "=")
        }
        index += 3
    }
    return output
}
