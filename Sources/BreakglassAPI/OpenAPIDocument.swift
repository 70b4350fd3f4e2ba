/// The contract itself, compiled into every binary that links this module (`Resource.embedInCode`): the broker
/// serves the repository's `openapi.json` byte for byte, with no resource bundle to install beside `breakglassd`
/// and no second copy to drift.
public enum OpenAPIDocument {
    public static var bytes: [UInt8] { PackageResources.openapi_json }
}
