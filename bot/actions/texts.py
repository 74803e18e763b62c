"""What the bot says itself (outside the FAQ), in every supported language."""

GREET = {
    "ja": "こんにちは。市役所の案内窓口です。子育て、移住、観光、手続き、ごみ、防災について、ご質問をどうぞ。",
    "ja-easy": "こんにちは。しやくしょの あんない です。しつもんを どうぞ。",
    "en": "Hello! This is the city hall help desk. Ask me about childcare, moving here, sightseeing, procedures, garbage or disaster preparedness.",
    "zh-Hans": "您好！这里是市政府咨询窗口。欢迎咨询育儿、移居、观光、手续、垃圾分类和防灾等问题。",
    "zh-Hant": "您好！這裡是市政府諮詢窗口。歡迎諮詢育兒、移居、觀光、手續、垃圾分類和防災等問題。",
    "ko": "안녕하세요! 시청 안내 창구입니다. 육아, 이주, 관광, 각종 수속, 쓰레기, 방재에 대해 질문해 주세요.",
    "vi": "Xin chào! Đây là quầy hướng dẫn của tòa thị chính. Hãy hỏi về nuôi con, chuyển đến sống, du lịch, thủ tục, rác thải hoặc phòng chống thiên tai.",
    "pt": "Olá! Aqui é o balcão de atendimento da prefeitura. Pergunte sobre creches, mudança para a cidade, turismo, procedimentos, lixo ou prevenção de desastres.",
    "es": "¡Hola! Este es el mostrador de información del ayuntamiento. Pregunte sobre cuidado infantil, mudanza, turismo, trámites, basura o prevención de desastres.",
    "th": "สวัสดีค่ะ ที่นี่คือจุดบริการข้อมูลของศาลาว่าการเมือง สอบถามเรื่องการเลี้ยงดูบุตร การย้ายถิ่นฐาน การท่องเที่ยว ขั้นตอนต่าง ๆ ขยะ หรือการป้องกันภัยพิบัติได้เลยค่ะ",
    "tl": "Kumusta! Ito ang help desk ng city hall. Magtanong tungkol sa pag-aalaga ng bata, paglipat dito, turismo, mga proseso, basura o paghahanda sa sakuna.",
}

GOODBYE = {
    "ja": "ご利用ありがとうございました。またいつでもどうぞ。",
    "ja-easy": "ありがとう ございました。また きて ください。",
    "en": "Thank you for using the help desk. Come back any time.",
    "zh-Hans": "感谢您的使用，欢迎随时再来。",
    "zh-Hant": "感謝您的使用，歡迎隨時再來。",
    "ko": "이용해 주셔서 감사합니다. 언제든지 다시 찾아 주세요.",
    "vi": "Cảm ơn bạn đã sử dụng. Hãy quay lại bất cứ lúc nào.",
    "pt": "Obrigado por usar o atendimento. Volte quando quiser.",
    "es": "Gracias por usar el servicio. Vuelva cuando quiera.",
    "th": "ขอบคุณที่ใช้บริการค่ะ แวะมาใหม่ได้ทุกเมื่อ",
    "tl": "Salamat sa paggamit ng help desk. Bumalik anumang oras.",
}

THANKS = {
    "ja": "どういたしまして。ほかにご質問はありますか？",
    "ja-easy": "どういたしまして。ほかに しつもんは ありますか？",
    "en": "You're welcome. Is there anything else I can help with?",
    "zh-Hans": "不客气。还有其他问题吗？",
    "zh-Hant": "不客氣。還有其他問題嗎？",
    "ko": "천만에요. 다른 질문이 있으신가요?",
    "vi": "Không có gì. Bạn còn câu hỏi nào khác không?",
    "pt": "De nada. Posso ajudar em mais alguma coisa?",
    "es": "De nada. ¿Puedo ayudarle en algo más?",
    "th": "ยินดีค่ะ มีคำถามอื่นอีกไหมคะ",
    "tl": "Walang anuman. May iba pa ba akong maitutulong?",
}

OUT_OF_SCOPE = {
    "ja": "申し訳ありません。この窓口では市の手続きや暮らしの情報についてお答えしています。",
    "ja-easy": "ごめんなさい。ここでは しの てつづきや くらしの ことに こたえます。",
    "en": "Sorry, I can only help with city services and life in the city.",
    "zh-Hans": "抱歉，这里只能回答有关市政服务和生活的问题。",
    "zh-Hant": "抱歉，這裡只能回答有關市政服務和生活的問題。",
    "ko": "죄송합니다. 이곳에서는 시의 행정 서비스와 생활 정보에 대해서만 답변드립니다.",
    "vi": "Xin lỗi, tôi chỉ có thể hỗ trợ về dịch vụ của thành phố và đời sống tại đây.",
    "pt": "Desculpe, só posso ajudar com serviços municipais e a vida na cidade.",
    "es": "Lo siento, solo puedo ayudar con los servicios municipales y la vida en la ciudad.",
    "th": "ขออภัย ที่นี่ตอบได้เฉพาะเรื่องบริการของเมืองและการใช้ชีวิตในเมืองเท่านั้น",
    "tl": "Paumanhin, makakatulong lamang ako tungkol sa mga serbisyo ng lungsod at pamumuhay dito.",
}

HANDOVER = {
    "ja": "担当者におつなぎします。{department}（電話 {phone}、{hours}）へお問い合わせください。",
    "ja-easy": "しやくしょの ひとに でんわ してください。{department} でんわ {phone}（{hours}）",
    "en": "Let me put you in touch with staff. Please call {department} (phone {phone}, {hours}).",
    "zh-Hans": "为您转接工作人员。请联系{department}（电话 {phone}，{hours}）。",
    "zh-Hant": "為您轉接工作人員。請聯絡{department}（電話 {phone}，{hours}）。",
    "ko": "담당자에게 연결해 드리겠습니다. {department}(전화 {phone}, {hours})로 문의해 주세요.",
    "vi": "Tôi sẽ kết nối bạn với nhân viên. Vui lòng gọi {department} (điện thoại {phone}, {hours}).",
    "pt": "Vou encaminhá-lo a um atendente. Ligue para {department} (telefone {phone}, {hours}).",
    "es": "Le comunicaré con el personal. Llame a {department} (teléfono {phone}, {hours}).",
    "th": "จะติดต่อเจ้าหน้าที่ให้ค่ะ กรุณาโทร {department} (โทร {phone}, {hours})",
    "tl": "Ikokonekta kita sa kawani. Mangyaring tumawag sa {department} (telepono {phone}, {hours}).",
}


def pick(table: dict, lang: str) -> str:
    """The text in ``lang``, else English."""
    return table.get(lang) or table["en"]
