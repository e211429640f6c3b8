import CQRencode
import Foundation
import Ichigo

/// A QR code symbol from libqrencode, drawn as inline SVG (no image file, nothing cached or logged).
struct QRCode {
    let width: Int
    /// Dark modules, row by row.
    let modules: [Bool]

    /// Encodes `text` in 8-bit mode at error-correction level M.
    init(_ text: String) throws {
        guard let symbol = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M) else {
            throw IchigoError(.invalidInput, detail: "text too long for a QR code")
        }
        defer { QRcode_free(symbol) }
        let width = Int(symbol.pointee.width)
        self.width = width
        // Bit 0 of each byte is the module's colour (1 = dark); the other bits describe its role.
        modules = (0..<(width * width)).map { symbol.pointee.data[$0] & 1 == 1 }
    }

    /// An SVG of the symbol with a 4-module quiet zone.
    func svg(moduleSize: Int = 6) -> String {
        let quiet = 4
        let size = (width + 2 * quiet) * moduleSize
        var path = ""
        for row in 0..<width {
            for column in 0..<width where modules[row * width + column] {
                path += "M\((column + quiet) * moduleSize) \((row + quiet) * moduleSize)h\(moduleSize)v\(moduleSize)h-\(moduleSize)z"
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" id="otpauth-qr" width="\(size)" height="\(size)" \
            viewBox="0 0 \(size) \(size)" shape-rendering="crispEdges" role="img" aria-label="QR">\
            <rect width="\(size)" height="\(size)" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }
}
