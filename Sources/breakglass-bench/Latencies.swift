/// Response times of one load, in milliseconds, and the percentiles every benchmark prints.
struct Latencies {
    private let sorted: [Double]

    init(_ durations: [Duration]) {
        sorted = durations.map(Self.milliseconds).sorted()
    }

    var count: Int { sorted.count }
    var max: Double { sorted.last ?? 0 }

    /// The nearest-rank percentile (`p` from 0 to 1).
    func percentile(_ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
