import Foundation

/// A channel body as its receiver parses it: tests look at the wire form, not at the Swift values.
func wireJSON<Body: Encodable>(_ body: Body) -> [String: Any] {
    let data = try! JSONEncoder().encode(body)
    return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
}
