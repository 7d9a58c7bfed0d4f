#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// MS-DOS date and time, in local time as Info-ZIP writes them, clamped to 1980–2107.
enum DOSTime {
    static func encode(_ seconds: Int64) -> (time: UInt16, date: UInt16) {
        var t = time_t(seconds)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return (0, 0x21) }
        let year = Int(parts.tm_year) + 1900
        if year < 1980 { return (0, 0x21) }  // 1980-01-01 00:00:00
        if year > 2107 { return (0xBF7D, 0xFF9F) }  // 2107-12-31 23:59:58
        let time = UInt16(parts.tm_hour) << 11 | UInt16(parts.tm_min) << 5 | UInt16(parts.tm_sec / 2)
        let date = UInt16(year - 1980) << 9 | UInt16(parts.tm_mon + 1) << 5 | UInt16(parts.tm_mday)
        return (time, date)
    }

    static func decode(time: UInt16, date: UInt16) -> Int64 {
        var parts = tm()
        parts.tm_year = Int32(date >> 9) + 80
        parts.tm_mon = Int32((date >> 5) & 0xF) - 1
        parts.tm_mday = Int32(date & 0x1F)
        parts.tm_hour = Int32(time >> 11)
        parts.tm_min = Int32((time >> 5) & 0x3F)
        parts.tm_sec = Int32(time & 0x1F) * 2
        parts.tm_isdst = -1
        return Int64(mktime(&parts))
    }
}
