import ArgumentParser
import Foundation
import MedBusCore
import MedBusDispatch

/// `medbus dispatch tasks | show TASK`: the 120 task timelines `medbus serve` keeps in
/// `<data-dir>/dispatch.sqlite` (read-only here; safe while serve runs).
struct DispatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch",
        abstract: "120 dispatch tasks: active tasks with stage and ETA, and one task's timeline.",
        subcommands: [Tasks.self, Show.self]
    )

    /// Where the timelines are: `--data-dir` and the vital-sign table.
    struct TimelineOptions: ParsableArguments {
        @Option(name: .customLong("data-dir"), help: "Directory of the SQLite databases (dispatch.sqlite).")
        var dataDirectory: String = "./data"

        func open() throws -> TimelineStore {
            guard FileManager.default.fileExists(atPath: (dataDirectory as NSString).appendingPathComponent("dispatch.sqlite")) else {
                throw CommandFailure("no dispatch timelines in \(dataDirectory) (does `medbus serve` run a dispatch-120 adapter there?)")
            }
            do { return try TimelineStore.open(directory: dataDirectory, vitalSigns: VitalSigns([])) } catch { throw CommandFailure("\(error)") }
        }
    }

    struct Tasks: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tasks not completed, most recently updated first: stage, destination, ETA.")

        @OptionGroup var options: TimelineOptions
        @Flag(help: "Include completed tasks.") var all = false
        @Option(help: "At most this many tasks.") var limit: Int = 100

        func run() throws {
            let tasks = try options.open().tasks(includeCompleted: all, limit: limit)
            print(["TASK", "CENTRE", "STAGE", "SINCE", "DESTINATION", "ETA", "ON BOARD", "EVENTS"].joined(separator: "\t"))
            for task in tasks {
                print([
                    task.taskId, task.centre, task.stage ?? "-", task.stageAt ?? "-", task.destination ?? "-", task.eta ?? "-",
                    task.patientOnBoard ? "yes" : "no", "\(task.eventCount)",
                ].joined(separator: "\t"))
            }
            if tasks.isEmpty { FileHandle.standardError.write(Data("no \(all ? "" : "active ")tasks\n".utf8)) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One task's timeline: stages with times, intervals, latest vitals, destination, ETA, notices sent.",
            discussion: "Patient details are shown only with --patient (they are patient data)."
        )

        @OptionGroup var options: TimelineOptions
        @Argument(help: "The task id.") var task: String
        @Flag(help: "Print the whole timeline as JSON.") var json = false
        @Flag(help: "Also print the patient's details.") var patient = false

        func run() throws {
            let store = try options.open()
            guard var timeline = try store.timeline(of: task) else { throw CommandFailure("no task \(task)") }
            if !patient { timeline = timeline.setting("patient", .string("(hidden; --patient to show)")) }
            if json {
                print(JSONWriter.pretty(timeline))
                return
            }
            print("task \(task)  centre \(timeline["centre"]?.stringValue ?? "-")  stage \(timeline["stage"]?.stringValue ?? "-")")
            print("destination \(timeline["destinationHospital"]?.stringValue ?? "-")  ETA \(timeline["eta"]?.stringValue ?? "-")  patient on board \(timeline["patientOnBoard"] == .bool(true) ? "yes" : "no")")
            for field in ["chiefComplaint", "firstImpression", "triageLevel", "pathway", "taskResult"] {
                if let value = timeline[field]?.scalarText { print("\(field) \(value)") }
            }
            if patient, let details = timeline["patient"] { print("patient \(details.jsonText)") }
            print("\nSTAGE\tAT")
            for stage in timeline["stages"]?.arrayValue ?? [] {
                print("\(stage["stage"]?.stringValue ?? "")\t\(stage["at"]?.stringValue ?? "")")
            }
            if case .object(let intervals)? = timeline["intervals"], !intervals.isEmpty {
                print("\nINTERVAL\tSECONDS")
                for (name, seconds) in intervals { print("\(name)\t\(seconds.scalarText ?? "")") }
            }
            let vitals = timeline["vitals"]?.arrayValue ?? []
            if !vitals.isEmpty {
                print("\nVITAL\tVALUE\tAT")
                for reading in vitals {
                    let flag = reading["flagged"] == .bool(true) ? "\t(implausible, flagged)" : ""
                    print("\(reading["code"]?.stringValue ?? "")\t\(reading["value"]?.scalarText ?? "")\t\(reading["acqTime"]?.stringValue ?? "")\(flag)")
                }
            }
            let notices = try store.notices(of: task)
            if !notices.isEmpty {
                print("\nNOTICE\tSTATUS\tHOSPITAL\tON KAFKA")
                for (notice, published) in notices { print("\(notice.version)\t\(notice.status.rawValue)\t\(notice.hospital)\t\(published ? "yes" : "pending")") }
            }
            let events = timeline["events"]?.arrayValue ?? []
            print("\nEVENT\tSTAGE\tAT (\(events.count) events, in event-time order)")
            for event in events {
                print("\(event["eventId"]?.stringValue ?? "")\t\(event["stage"]?.stringValue ?? "")\t\(event["at"]?.stringValue ?? "")")
            }
        }
    }
}
