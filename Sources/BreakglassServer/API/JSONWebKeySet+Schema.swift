import BreakglassAPI
import BreakglassCredentials

extension Components.Schemas.JSONWebKeySet {
    init(_ document: JWKSDocument) {
        self.init(keys: document.keys.map { .init(kty: $0.kty, crv: $0.crv, alg: $0.alg, use: $0.use, kid: $0.kid, x: $0.x) })
    }
}
