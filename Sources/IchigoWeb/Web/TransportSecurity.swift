import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Gives the answers HTTP parsing errors get below the router — an over-long path or header, a malformed
/// request line — the API's error shape. Hummingbird answers them with an empty `400` and closes the
/// connection; this handler, between the HTTP codec and the application, rewrites that answer to
/// `{"error":{"code","message"}}` (431 for an over-long URL or header). The request never reached Ichigo, so
/// its language is unknown: the message is in Japanese, the bank's language. The answer carries a fresh
/// `X-Request-ID`, and the access log a line with that ID, so a caller's report can be found.
final class ProtocolErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var parseError: HTTPParserError?
    /// A complete answer went out after the parse error (the route answered a body it could not read).
    private var answeredAfterError = false
    private var droppingEmptyAnswer = false
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError { parseError = error }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if droppingEmptyAnswer {
            if case .end = part { droppingEmptyAnswer = false }
            promise?.succeed(())
            return
        }
        guard let parseError else {
            context.write(data, promise: promise)
            return
        }
        switch part {
        case .head(let head)
        where head.status == .badRequest && head.headerFields[.contentLength] == "0"
            && head.headerFields[.connection] == "close":
            if answeredAfterError {
                // The route already answered this request: a second answer would corrupt the stream.
                droppingEmptyAnswer = true
                promise?.succeed(())
                return
            }
            let code: IchigoError.Code = parseError == .headerOverflow ? .requestHeaderTooLarge : .malformedRequest
            let status: HTTPResponse.Status = parseError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            let body = ErrorMiddleware<IchigoRequestContext>.jsonBody(
                code: code.description, message: WebMessages.text(for: code, in: .ja), field: nil)
            var fields = HTTPFields()
            fields[.contentType] = "application/json; charset=utf-8"
            fields[.contentLength] = String(body.count)
            fields[.cacheControl] = "no-store"
            fields[.connection] = "close"
            let id = RequestID().description
            fields[RequestIDMiddleware<IchigoRequestContext>.headerName] = id
            logger.info(
                "request",
                metadata: [
                    "request.id": .string(id), "http.status": .stringConvertible(status.code),
                    "http.error": .string("\(parseError)"),
                ])
            context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
            context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        case .end:
            answeredAfterError = true
            context.write(data, promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}

/// Headers every answer carries: `Cache-Control: no-store` on the JSON API and the app endpoint (seeds, codes
/// and personal data must never sit in a cache), and `Strict-Transport-Security` when Ichigo's public URL is
/// `https://`.
struct ResponseHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let strictTransportSecurity: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response = try await next(request, context)
        let path = request.uri.path
        if path.hasPrefix("/api/") || path.hasPrefix("/app/"), response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        if strictTransportSecurity {
            response.headers[.strictTransportSecurity] = "max-age=63072000; includeSubDomains"
        }
        return response
    }
}
