import Foundation
import Hummingbird
import Ichigo
import OTP

/// The endpoint the software-token app calls once at initial setup (初期設定): サービスID, ユーザID,
/// 利用開始パスワード and consent in; seed and a new serial out.
struct AppProvisioningController<Context: RequestContext>: Sendable {
    let services: IchigoServices

    struct ProvisionBody: JSONRequestBody {
        var serviceId: String
        var userId: String
        var activationPassword: String
        var consent: Bool
        static var fields: Set<String> { ["serviceId", "userId", "activationPassword", "consent"] }
    }


    func addRoutes(to group: RouterGroup<Context>) {
        group.post("provision", use: provision)
    }

    @Sendable func provision(_ request: Request, context: Context) async throws -> ProvisioningAnswer {
        let body = try await request.decodeJSON(as: ProvisionBody.self, context: context)
        let provisioned = try await services.retail.provision(
            serviceID: body.serviceId, appUserID: body.userId, activationPassword: body.activationPassword,
            consent: body.consent, at: services.clock.now())
        let uri = KeyURI(
            issuer: provisioned.issuer, account: provisioned.serial.rawValue, seed: provisioned.seed,
            parameters: provisioned.parameters)
        return ProvisioningAnswer(
            serial: provisioned.serial.rawValue, secret: provisioned.seed.base32,
            algorithm: provisioned.parameters.algorithm.rawValue, digits: provisioned.parameters.digits,
            period: provisioned.parameters.period, issuer: provisioned.issuer, otpauthUri: uri.uri,
            ocraSuite: provisioned.ocraSuite)
    }
}

extension ProvisioningAnswer: ResponseEncodable {}
