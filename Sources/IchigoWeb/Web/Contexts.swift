import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import NIOCore

/// The request context: Hummingbird's core storage, a small body limit, and (on the HTML screens) the browser
/// session that `SessionMiddleware` loaded.
public struct IchigoRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The browser session, loaded once per request by `SessionMiddleware` (HTML routes only).
    var page: WebPage?
    /// The JSON API key the request presented, set by `APIKeyMiddleware` (API routes only).
    public var apiKey: APIKey?

    public init(source: Source) { coreContext = .init(source: source) }
    /// JSON requests and forms are small; anything larger is refused with 413.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The session `SessionMiddleware` loaded. Only HTML routes, which sit behind it, call this.
    func session() throws -> WebPage {
        guard let page else { throw IchigoError(.sessionExpired, detail: "no session middleware on this route") }
        return page
    }
}

/// A request context that carries the JSON API key (`APIKeyMiddleware` sets it).
public protocol APIRequestContext: RequestContext {
    var apiKey: APIKey? { get set }
}

extension APIRequestContext {
    /// Who the audit trail names for this API call: `api:<key name>`.
    var actor: String { "api:" + (apiKey?.name ?? "unknown") }
}

extension IchigoRequestContext: APIRequestContext {}

/// Loads (or starts) the browser session of every HTML request, once, into the context.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = IchigoRequestContext
    let sessions: SessionManager

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.page = try await sessions.load(request)
        return try await next(request, context)
    }
}

/// Who a browser session belongs to: each audience logs in on its own page and sees only its own screens.
enum Audience: String, Codable, Sendable {
    /// 個人のお客さま.
    case retail
    /// A user of a corporate contract, logged in at 法人 ログイン.
    case corporateUser = "corporate_user"
    /// The master user or an administrator, logged in at 管理者ログイン.
    case corporateAdmin = "corporate_admin"
    /// A bank operator, logged in to the operator console.
    case bankOperator = "operator"

    /// Where this audience logs in.
    var loginPath: String {
        switch self {
        case .retail: "/login"
        case .corporateUser: "/corp/login"
        case .corporateAdmin: "/corp/admin/login"
        case .bankOperator: "/operator/login"
        }
    }
}

/// Thrown while building an audience's context when the session does not belong to it: answered with a
/// redirect to that audience's login page (and the session cookie).
struct WebRedirect: Error {
    let location: String
    let page: WebPage
}

/// A context that can only exist for a logged-in user of one audience. Every route of the audience's group
/// gets one; a request from anyone else never reaches a handler.
protocol AuthenticatedWebContext: ChildRequestContext where ParentContext == IchigoRequestContext {
    var page: WebPage { get set }
    var user: User { get }
}

extension AuthenticatedWebContext {
    var maxUploadSize: Int { 64 * 1024 }

    /// The session, if it is a completed login of `audience` by a user that audience admits.
    static func identity(_ context: IchigoRequestContext, audience: Audience) throws -> (WebPage, User) {
        let page = try context.session()
        guard page.isAuthenticated, page.data.audience == audience, let user = page.user,
            page.loginAudience?.admits(user) == true
        else { throw WebRedirect(location: audience.loginPath, page: page) }
        return (page, user)
    }
}

/// A retail customer's screens (BTP, BFK, BOP/BOT/BOK/BOS).
struct RetailContext: AuthenticatedWebContext {
    var coreContext: CoreRequestContextStorage
    var page: WebPage
    let user: User

    init(context: IchigoRequestContext) throws {
        coreContext = context.coreContext
        (page, user) = try Self.identity(context, audience: .retail)
    }
}

/// A corporate user's screens (top page, self-registration, transfer data and approvals).
struct CorporateContext: AuthenticatedWebContext {
    var coreContext: CoreRequestContextStorage
    var page: WebPage
    let user: User
    /// The permissions of this login: the snapshot taken at login, narrowed by any removal since.
    let grants: Permissions

    init(context: IchigoRequestContext) throws {
        coreContext = context.coreContext
        (page, user) = try Self.identity(context, audience: .corporateUser)
        grants = (page.data.grants ?? .empty).intersection(user.permissions)
    }
}

/// The master user's and administrators' screens (管理業務, ご契約先管理情報変更).
struct CorporateAdminContext: AuthenticatedWebContext {
    var coreContext: CoreRequestContextStorage
    var page: WebPage
    let user: User

    init(context: IchigoRequestContext) throws {
        coreContext = context.coreContext
        (page, user) = try Self.identity(context, audience: .corporateAdmin)
    }
}

/// The bank operator console.
struct OperatorContext: ChildRequestContext {
    typealias ParentContext = IchigoRequestContext
    var coreContext: CoreRequestContextStorage
    var page: WebPage
    let bankOperator: BankOperator
    var maxUploadSize: Int { 64 * 1024 }

    init(context: IchigoRequestContext) throws {
        coreContext = context.coreContext
        let page = try context.session()
        guard page.session.stage == .authenticated, page.data.audience == .bankOperator,
            let bankOperator = page.bankOperator
        else { throw WebRedirect(location: Audience.bankOperator.loginPath, page: page) }
        self.page = page
        self.bankOperator = bankOperator
    }
}
