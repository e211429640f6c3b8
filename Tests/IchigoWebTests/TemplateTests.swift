import Foundation
import Ichigo
import Testing

@testable import IchigoWeb

/// The templates sit in one folder per audience and are still known by their bare names.
@Suite("Templates")
struct TemplateTests {
    /// `Sources/IchigoWeb/Templates` in the source tree (the bundle holds a copy of it).
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/IchigoWeb/Templates")

    /// Every template file, as (folder, name, text).
    static func templates() throws -> [(folder: String, name: String, text: String)] {
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        var found: [(String, String, String)] = []
        for case let file as URL in files! where file.pathExtension == "mustache" {
            found.append(
                (file.deletingLastPathComponent().lastPathComponent, file.deletingPathExtension().lastPathComponent,
                 try String(contentsOf: file, encoding: .utf8)))
        }
        return found
    }

    @Test func everyTemplateSitsInAnAudienceFolderAndEveryPartialIsFound() throws {
        let templates = try Self.templates()
        #expect(templates.count > 40)
        let renderer = Renderer(library: try Renderer.library(from: Self.sources))
        let partial = try Regex(#"\{\{>\s*([A-Za-z0-9_]+)\s*\}\}"#)
        for template in templates {
            #expect(["Retail", "Corporate", "Operator", "Passkeys", "Shared"].contains(template.folder), "\(template.name)")
            #expect(renderer.knows(template.name), "\(template.name)")
            for match in template.text.matches(of: partial) {
                let name = String(match.output[1].substring ?? "")
                #expect(renderer.knows(name), "\(template.name) includes \(name)")
            }
        }
    }

    @Test func theBundledTemplatesLoadUnderTheirBareNames() async throws {
        let renderer = try await Renderer.load()
        for name in ["head", "foot", "login", "bop001", "done", "corp_top", "f_conf", "op_menu", "passkeys"] {
            #expect(renderer.knows(name), "\(name)")
        }
        // A screen in one folder with partials from another.
        let page = renderer.render("done", ["lead": "完了しました。", "lang": "ja"])
        #expect(page.contains("<html") && page.contains("完了しました。") && page.contains("</html>"))
    }

    @Test func twoTemplatesWithOneNameStopTheStart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for folder in ["Retail", "Corporate"] {
            let path = directory.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
            try Data("{{> head}}\(folder)".utf8).write(to: path.appendingPathComponent("top.mustache"))
        }
        let error = #expect(throws: IchigoError.self) { try Renderer.library(from: directory) }
        #expect(error?.detail?.contains("two templates are named top") == true, "\(String(describing: error))")
        try FileManager.default.removeItem(at: directory.appendingPathComponent("Corporate"))
        let renderer = Renderer(library: try Renderer.library(from: directory))
        #expect(renderer.render("top", [:]) == "Retail")
    }
}
