/// Line diffs for people: `medbus mapping test` failures and `medbus mapping diff`.
public enum TextDiff {
    /// A unified-style diff of two texts: `---`/`+++` labels, then every line prefixed with ` `, `-` or `+`
    /// (longest common subsequence, so unchanged lines stay aligned). Empty when the texts are equal.
    public static func unified(_ a: String, _ b: String, labels: (String, String)) -> String {
        guard a != b else { return "" }
        let left = a.split(separator: "\n", omittingEmptySubsequences: false)
        let right = b.split(separator: "\n", omittingEmptySubsequences: false)
        let n = left.count
        let m = right.count
        // lengths[i][j]: LCS length of left[i...] and right[j...].
        var lengths = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lengths[i][j] = left[i] == right[j] ? lengths[i + 1][j + 1] + 1 : max(lengths[i + 1][j], lengths[i][j + 1])
            }
        }
        var lines = ["--- \(labels.0)", "+++ \(labels.1)"]
        var i = 0
        var j = 0
        while i < n || j < m {
            if i < n, j < m, left[i] == right[j] {
                lines.append(" " + left[i])
                i += 1
                j += 1
            } else if i < n, j == m || lengths[i + 1][j] >= lengths[i][j + 1] {
                lines.append("-" + left[i])
                i += 1
            } else {
                lines.append("+" + right[j])
                j += 1
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
