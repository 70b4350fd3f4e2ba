import BreakglassCore
import BreakglassStore
import Foundation

/// What `breakglassd check` needs to know about the notification channels, decrypted in memory only.
public struct ChannelEndpoint: Sendable {
    public var name: String
    public var kind: ChannelKind
    /// What listings and logs may show.
    public var host: String
    public var enabled: Bool
    public var disabledReason: String?
    /// The full URL, a secret: handed to the probe, never printed.
    public var url: String
}

extension Broker {
    /// Every channel with its decrypted URL. A channel whose configuration does not decrypt is an error
    /// naming it: the master key is not the one its configuration was sealed with.
    public static func channelEndpoints(database: Database, box: SecretBox) async throws -> [ChannelEndpoint] {
        let channels = try await database.read { try await $0.channels.list() }
        return try channels.map { channel in
            let config: ChannelConfig
            do {
                config = try JSONDecoder().decode(ChannelConfig.self, from: Data(box.open(channel.configEnc, context: ChannelRecord.context(channel.id))))
            } catch {
                throw BreakglassError(.internalFailure, "channel_config_unreadable",
                                      "the configuration of channel \(channel.name) does not decrypt with this master key")
            }
            return ChannelEndpoint(name: channel.name, kind: channel.kind, host: channel.host, enabled: channel.enabled,
                                   disabledReason: channel.disabledReason, url: config.url)
        }
    }
}
